/** k8pshd's command line (README.md, "Server k8pshd"), with yargs; help texts read like the original's. */
import yargs from 'yargs';
import { optionValues } from '../config/section-options.js';
import { UsageError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../protocol/constants.js';
import { versionLine } from '../version.js';
import { HELP_WIDTH } from '../help-width.js';
import {
  parseNumericOption,
  POSITIVE,
  POSITIVE_TIMER,
  UID,
  UNLIMITED_IF_NEGATIVE,
  type NumericRule,
} from './numeric-options.js';

export interface ServerOptions {
  background: boolean;
  config: string | undefined;
  disableClientExecutables: boolean;
  executableDirectory: string | undefined;
  ignoreInvalidArguments: boolean;
  keepClientExecutables: boolean;
  generateLocalExecutables: boolean;
  maxConnections: number;
  name: string | undefined;
  overwriteClientExecutables: boolean;
  pidfile: string;
  pidfileGiven: boolean;
  timeout: number;
  noWait: boolean;
  logFormat: 'json' | 'pretty' | 'auto';
  requestTimeoutMs: number;
  maxSessions: number;
  maxRequestBytes: number;
  limits: Limits;
  /** --server-uid: the uid the configuration says this server runs as (docs/security.md). */
  serverUid: number | undefined;
  /** --listen, as given (ADDR, ADDR:PORT, [IPv6]:PORT): checked against the section's port at start. */
  listen: string[];
  /** --tls: the Secret-shaped directory of this server's (or gateway's) TLS material. */
  tls: string | undefined;
  /** --allow-identity: client identities served; empty, every certificate the CA signed. */
  allowIdentities: string[];
  /** --gateway: serve the remote sections of the configuration locally (docs/remote.md). */
  gateway: boolean;
  /** --metrics ADDRESS:PORT: Prometheus metrics and the probes (docs/observability.md). */
  metrics: string | undefined;
}

export const DEFAULT_MAX_ARGUMENT_BYTES = DEFAULT_LIMITS.maxArgumentBytes;
/** Requests in progress, all connections together: room for two requests at the default caps. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 << 20;

export const DEFAULT_PIDFILE = '/run/k8pshd.pid';

const SERVER_OPTIONS = {
  background: {
    alias: 'b',
    type: 'boolean',
    default: false,
    description: 'Daemonize the server by sending it to the background.',
  },
  config: {
    alias: 'c',
    type: 'string',
    requiresArg: true,
    description: 'The configuration file loaded by k8pshd. Defaults to $K8PSH_CONFIG, else ./k8psh.conf.',
  },
  'disable-client-executables': {
    alias: 'd',
    type: 'boolean',
    default: false,
    description: 'Disables generating client executables so only local executables can be run.',
  },
  'executable-directory': {
    alias: 'e',
    type: 'string',
    requiresArg: true,
    description: 'The directory used to create the client executables.',
  },
  'ignore-invalid-arguments': {
    alias: 'i',
    type: 'boolean',
    default: false,
    description: 'Warn about unrecognized options instead of failing.',
  },
  'keep-client-executables': {
    alias: 'k',
    type: 'boolean',
    default: false,
    description: 'Do not remove the client executables on exit.',
  },
  'generate-local-executables': {
    alias: 'l',
    type: 'boolean',
    default: false,
    description: 'Generate client executables for local executables.',
  },
  'max-connections': {
    alias: 'm',
    requiresArg: true,
    nargs: 1,
    default: -1,
    description: 'Exit after this many connections (0: create the stubs and exit; negative: no limit).',
  },
  name: {
    alias: 'n',
    type: 'string',
    requiresArg: true,
    description: 'The name used to identify the server. Defaults to $K8PSH_NAME or hostname.',
  },
  'overwrite-client-executables': {
    alias: 'o',
    type: 'boolean',
    default: false,
    description: 'Overwrite client executables rather than fail with error.',
  },
  pidfile: {
    alias: 'p',
    type: 'string',
    requiresArg: true,
    description: `The file to store the PID of the server (with --background). Defaults to ${DEFAULT_PIDFILE}.`,
  },
  timeout: {
    alias: 't',
    requiresArg: true,
    nargs: 1,
    default: -1,
    description: 'The time in milliseconds before the server exits. Defaults to -1 (negative: run forever).',
  },
  'no-wait': {
    alias: 'w',
    type: 'boolean',
    default: false,
    description: 'Do not wait for running sessions on exit.',
  },
  'log-format': {
    choices: ['json', 'pretty', 'auto'] as const,
    default: 'auto' as const,
    description: 'Log format on stderr (auto: pretty on a terminal).',
  },
  'server-uid': {
    requiresArg: true,
    nargs: 1,
    description:
      'The uid this server runs as (on its section line: stubs then trust its listener); k8pshd refuses to start as another non-root uid.',
  },
  listen: {
    type: 'string',
    requiresArg: true,
    description:
      'Addresses to listen on (repeatable or comma-separated; ADDR, ADDR:PORT, [IPv6]:PORT). Loopback serves the Pod; any other address needs --tls. Defaults to 127.0.0.1.',
  },
  tls: {
    type: 'string',
    requiresArg: true,
    description:
      'Directory with tls.crt, tls.key and ca.crt (a mounted kubernetes.io/tls Secret): mutual TLS 1.3 on non-loopback addresses; for --gateway, the client certificate.',
  },
  'allow-identity': {
    type: 'string',
    requiresArg: true,
    description:
      "Client certificate identities served on TLS (repeatable or comma-separated): the subject's CN or a subjectAltName. Defaults to any the CA signed.",
  },
  remote: {
    type: 'string',
    requiresArg: true,
    description:
      "(Section option, read by clients) HOST[:PORT] where this section's server is reached over mutual TLS.",
  },
  'tls-server-name': {
    type: 'string',
    requiresArg: true,
    description:
      "(Section option, read by clients) The name the server's certificate must carry. Defaults to the --remote host.",
  },
  metrics: {
    type: 'string',
    requiresArg: true,
    description:
      'ADDRESS:PORT to serve Prometheus metrics (/metrics) and the probes /livez and /readyz on (HTTP).',
  },
  gateway: {
    type: 'boolean',
    default: false,
    description:
      'Serve every section with --remote on its local port and socket, relaying its sessions to the remote server.',
  },
  'request-timeout': {
    requiresArg: true,
    nargs: 1,
    default: 30000,
    description: 'Milliseconds a client has to send its whole request.',
  },
  'max-sessions': {
    requiresArg: true,
    nargs: 1,
    default: 1024,
    description: 'Concurrent connections; more are refused with a message.',
  },
  'max-request-bytes': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_MAX_REQUEST_BYTES,
    description: 'Most bytes of requests in progress, all connections together; more are refused.',
  },
  'max-frame-size': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_LIMITS.maxFramePayload,
    description: 'Largest control frame (argument, variable, directory) in bytes.',
  },
  'max-arguments': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_LIMITS.maxArguments,
    description: 'Most arguments a client may send.',
  },
  'max-argument-bytes': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_MAX_ARGUMENT_BYTES,
    description: 'Most bytes of arguments (all together) a client may send.',
  },
  'max-environment-variables': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_LIMITS.maxEnvironmentVariables,
    description: 'Most environment variables a client may send.',
  },
  'max-environment-bytes': {
    requiresArg: true,
    nargs: 1,
    default: DEFAULT_LIMITS.maxEnvironmentBytes,
    description: 'Most bytes of environment a client may send.',
  },
} as const;

function parser(args: readonly string[], warn: (message: string) => void) {
  return (
    yargs([...args])
      .scriptName('k8pshd')
      .usage('Usage: k8pshd [options]\n  Starts the k8pshd server')
      // Numbers stay strings: numeric-options.ts parses them strictly.
      .parserConfiguration({
        'duplicate-arguments-array': false,
        'strip-aliased': true,
        'parse-numbers': false,
        // `--no-wait` is an option of its own (as the original's), not the negation of a `--wait`.
        'boolean-negation': false,
      })
      .options(SERVER_OPTIONS)
      .help('help')
      .alias('help', 'h')
      .version('version', 'Prints the version and exits.', `k8pshd ${versionLine()}`)
      .alias('version', 'v')
      .strict(false)
      .wrap(HELP_WIDTH())
      .exitProcess(false)
      .fail((message, error) => {
        throw new UsageError(error?.message ?? message);
      })
      .check((argv) => {
        const unknown = Object.keys(argv).filter((key) => key !== '_' && key !== '$0' && !KNOWN.has(key));
        const extra = [
          ...unknown.map((key) => (key.length === 1 ? `-${key}` : `--${key}`)),
          ...argv._.map(String),
        ];
        if (extra.length === 0) return true;
        if (argv['ignore-invalid-arguments']) {
          for (const option of extra) warn(`Ignoring unrecognized option ${option}`);
          return true;
        }
        throw new UsageError(`unrecognized option ${extra[0]} (use --ignore-invalid-arguments to ignore it)`);
      })
  );
}

/** Every option key yargs may put in argv: kebab-case as declared, camelCase as it adds them. */
const KNOWN = new Set([
  ...Object.keys(SERVER_OPTIONS).flatMap((key) => [
    key,
    key.replace(/-(.)/g, (_, c: string) => c.toUpperCase()),
  ]),
  'help',
  'version',
]);

/** The rule of each numeric option: README's option table and docs/limits.md say the same. */
const NUMERIC_RULES = {
  'max-connections': UNLIMITED_IF_NEGATIVE('unlimited'),
  timeout: UNLIMITED_IF_NEGATIVE('never'),
  'request-timeout': POSITIVE_TIMER,
  'max-sessions': POSITIVE,
  'max-request-bytes': POSITIVE,
  'max-frame-size': POSITIVE,
  'max-arguments': POSITIVE,
  'max-argument-bytes': POSITIVE,
  'max-environment-variables': POSITIVE,
  'max-environment-bytes': POSITIVE,
  'server-uid': UID,
} as const satisfies Record<string, NumericRule>;

/**
 * Every value of a repeatable option, commas split; those from `commandLineFrom` on replace the
 * section's (the real command line wins, as for every other option).
 */
function repeated(args: readonly string[], name: string, commandLineFrom: number): string[] {
  const section: string[] = [];
  const commandLine: string[] = [];
  for (const { value, at } of optionValues(args, [`--${name}`], true)) {
    if (value === null) continue;
    (at >= commandLineFrom ? commandLine : section).push(...value.split(',').filter((v) => v !== ''));
  }
  return commandLine.length > 0 ? commandLine : section;
}

/**
 * Parses; `null` when --help or --version was answered. `commandLineFrom`: where the real command
 * line starts in `args`, after the section's options.
 */
export async function parseServerOptions(
  args: readonly string[],
  warn: (message: string) => void,
  commandLineFrom = 0,
): Promise<ServerOptions | null> {
  const argv = await parser(args, warn).parse();
  if (argv.help || argv.version) return null;
  const number = (key: keyof typeof NUMERIC_RULES): number =>
    parseNumericOption(key, argv[key], NUMERIC_RULES[key]);
  return {
    background: argv.background,
    config: argv.config,
    disableClientExecutables: argv['disable-client-executables'],
    executableDirectory: argv['executable-directory'],
    ignoreInvalidArguments: argv['ignore-invalid-arguments'],
    keepClientExecutables: argv['keep-client-executables'],
    generateLocalExecutables: argv['generate-local-executables'],
    maxConnections: number('max-connections'),
    name: argv.name,
    overwriteClientExecutables: argv['overwrite-client-executables'],
    pidfile: argv.pidfile ?? DEFAULT_PIDFILE,
    pidfileGiven: argv.pidfile !== undefined,
    timeout: number('timeout'),
    noWait: argv['no-wait'],
    logFormat: argv['log-format'],
    requestTimeoutMs: number('request-timeout'),
    maxSessions: number('max-sessions'),
    maxRequestBytes: number('max-request-bytes'),
    serverUid: argv['server-uid'] === undefined ? undefined : number('server-uid'),
    listen: repeated(args, 'listen', commandLineFrom),
    tls: argv.tls,
    allowIdentities: repeated(args, 'allow-identity', commandLineFrom),
    gateway: argv.gateway,
    metrics: argv.metrics,
    limits: {
      ...DEFAULT_LIMITS,
      maxFramePayload: number('max-frame-size'),
      maxArguments: number('max-arguments'),
      maxArgumentBytes: number('max-argument-bytes'),
      maxEnvironmentVariables: number('max-environment-variables'),
      maxEnvironmentBytes: number('max-environment-bytes'),
    },
  };
}

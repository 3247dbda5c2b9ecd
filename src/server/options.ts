/** k8pshd's command line (SPEC A3), with yargs; help texts read like the original's. */
import yargs from 'yargs';
import { DEFAULT_LIMITS, type Limits } from '../protocol/constants.js';
import { versionLine } from '../version.js';

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
}

export const DEFAULT_MAX_ARGUMENT_BYTES = DEFAULT_LIMITS.maxArgumentBytes;
/** Requests in progress, all connections together: room for two requests at the default caps. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 << 20;

export class UsageError extends Error {}

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
    description: 'The configuration file loaded by k8pshd. Defaults to $K8PSH_CONFIG.',
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
    type: 'number',
    requiresArg: true,
    default: -1,
    description: 'Exit after this many connections (-1: unlimited).',
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
    description: 'The file to store the PID of the server (with --background).',
  },
  timeout: {
    alias: 't',
    type: 'number',
    requiresArg: true,
    default: -1,
    description: 'The time in milliseconds before the server exits. Defaults to -1 (run forever).',
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
  'request-timeout': {
    type: 'number',
    requiresArg: true,
    default: 30000,
    description: 'Milliseconds a client has to send its whole request.',
  },
  'max-sessions': {
    type: 'number',
    requiresArg: true,
    default: 1024,
    description: 'Concurrent connections; more are refused with a message.',
  },
  'max-request-bytes': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_MAX_REQUEST_BYTES,
    description: 'Most bytes of requests in progress, all connections together; more are refused.',
  },
  'max-frame-size': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_LIMITS.maxFramePayload,
    description: 'Largest control frame (argument, variable, directory) in bytes.',
  },
  'max-arguments': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_LIMITS.maxArguments,
    description: 'Most arguments a client may send.',
  },
  'max-argument-bytes': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_MAX_ARGUMENT_BYTES,
    description: 'Most bytes of arguments (all together) a client may send.',
  },
  'max-environment-variables': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_LIMITS.maxEnvironmentVariables,
    description: 'Most environment variables a client may send.',
  },
  'max-environment-bytes': {
    type: 'number',
    requiresArg: true,
    default: DEFAULT_LIMITS.maxEnvironmentBytes,
    description: 'Most bytes of environment a client may send.',
  },
} as const;

function parser(args: readonly string[], warn: (message: string) => void) {
  return yargs([...args])
    .scriptName('k8pshd')
    .usage('Usage: k8pshd [options]\n  Starts the k8pshd server')
    .parserConfiguration({ 'duplicate-arguments-array': false, 'strip-aliased': true })
    .options(SERVER_OPTIONS)
    .help('help')
    .alias('help', 'h')
    .version('version', 'Prints the version and exits.', `k8pshd ${versionLine()}`)
    .alias('version', 'v')
    .strict(false)
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
    });
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

/** Limits and the request deadline have no "unlimited" value: zero or less would refuse everything. */
const POSITIVE_OPTIONS = [
  'request-timeout',
  'max-sessions',
  'max-request-bytes',
  'max-frame-size',
  'max-arguments',
  'max-argument-bytes',
  'max-environment-variables',
  'max-environment-bytes',
] as const;

/** Parses; `null` when --help or --version was answered. */
export async function parseServerOptions(
  args: readonly string[],
  warn: (message: string) => void,
): Promise<ServerOptions | null> {
  const argv = await parser(args, warn).parse();
  if (argv.help || argv.version) return null;
  for (const key of ['max-connections', 'timeout', ...POSITIVE_OPTIONS] as const)
    if (!Number.isInteger(argv[key])) throw new UsageError(`--${key} must be an integer`);
  for (const key of POSITIVE_OPTIONS)
    if (argv[key] < 1) throw new UsageError(`--${key} must be a positive integer`);
  return {
    background: argv.background,
    config: argv.config,
    disableClientExecutables: argv['disable-client-executables'],
    executableDirectory: argv['executable-directory'],
    ignoreInvalidArguments: argv['ignore-invalid-arguments'],
    keepClientExecutables: argv['keep-client-executables'],
    generateLocalExecutables: argv['generate-local-executables'],
    maxConnections: argv['max-connections'],
    name: argv.name,
    overwriteClientExecutables: argv['overwrite-client-executables'],
    pidfile: argv.pidfile ?? '/run/k8pshd.pid',
    pidfileGiven: argv.pidfile !== undefined,
    timeout: argv.timeout,
    noWait: argv['no-wait'],
    logFormat: argv['log-format'],
    requestTimeoutMs: argv['request-timeout'],
    maxSessions: argv['max-sessions'],
    maxRequestBytes: argv['max-request-bytes'],
    limits: {
      ...DEFAULT_LIMITS,
      maxFramePayload: argv['max-frame-size'],
      maxArguments: argv['max-arguments'],
      maxArgumentBytes: argv['max-argument-bytes'],
      maxEnvironmentVariables: argv['max-environment-variables'],
      maxEnvironmentBytes: argv['max-environment-bytes'],
    },
  };
}

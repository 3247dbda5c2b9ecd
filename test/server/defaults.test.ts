/**
 * Every documented default is the one the server parses (issue 21): the defaults are read from
 * docs/limits.md, README.md and docs/configuration.md (test/lib/documented-defaults.ts), so a
 * default changed in the code or in the documents alone fails here. What a real server without
 * flags does with them: test/hostile/defaults.test.ts.
 */
import t from 'tap';
import { parseConf } from '../../src/config/parse.js';
import { parseServerOptions, type ServerOptions } from '../../src/server/options.js';
import {
  documentedConnectTimeoutMs,
  documentedLimits,
  documentedServerDefaults,
  type LimitKey,
} from '../lib/documented-defaults.js';

/** Where each limit of the table is in the parsed options; null: not an option (test/hostile/defaults.test.ts). */
const PARSED: Record<LimitKey, ((options: ServerOptions) => number) | null> = {
  requestTimeoutMs: (o) => o.requestTimeoutMs,
  maxSessions: (o) => o.maxSessions,
  maxRequestBytes: (o) => o.maxRequestBytes,
  maxFramePayload: (o) => o.limits.maxFramePayload,
  maxArguments: (o) => o.limits.maxArguments,
  maxArgumentBytes: (o) => o.limits.maxArgumentBytes,
  maxEnvironmentVariables: (o) => o.limits.maxEnvironmentVariables,
  maxEnvironmentBytes: (o) => o.limits.maxEnvironmentBytes,
  maxDataPayload: (o) => o.limits.maxDataPayload,
  refusalLingerMs: null,
  killGraceMs: null,
};

/** The flag of each limit the table gives one: the option that the parsed value comes from. */
const FLAGS: Partial<Record<LimitKey, string>> = {
  requestTimeoutMs: '--request-timeout',
  maxSessions: '--max-sessions',
  maxRequestBytes: '--max-request-bytes',
  maxFramePayload: '--max-frame-size',
  maxArguments: '--max-arguments',
  maxArgumentBytes: '--max-argument-bytes',
  maxEnvironmentVariables: '--max-environment-variables',
  maxEnvironmentBytes: '--max-environment-bytes',
};

const parse = async (args: string[]): Promise<ServerOptions> => (await parseServerOptions(args, () => {}))!;

t.test('docs/limits.md: each default is what k8pshd parses with no flags', async (t) => {
  const documented = documentedLimits();
  const options = await parse([]);
  for (const [key, limit] of Object.entries(documented) as [LimitKey, (typeof documented)[LimitKey]][]) {
    t.equal(limit.flag, FLAGS[key] ?? null, `${key}: the flag the table names`);
    const parsed = PARSED[key];
    if (parsed) t.equal(parsed(options), limit.value, `${key}: ${limit.text}`);
  }
});

t.test('docs/limits.md: each flag sets what its row limits', async (t) => {
  // The default read back through the flag: a flag wired to another limit would change another field.
  for (const [key, flag] of Object.entries(FLAGS) as [LimitKey, string][]) {
    const options = await parse([flag, '12345']);
    t.equal(PARSED[key]!(options), 12345, `${flag} sets ${key}`);
  }
});

t.test('README.md: the defaults of --max-connections, --timeout and --pidfile', async (t) => {
  const documented = documentedServerDefaults();
  const options = await parse([]);
  t.same(
    { maxConnections: options.maxConnections, timeout: options.timeout, pidfile: options.pidfile },
    documented,
  );
  t.same(documented, { maxConnections: -1, timeout: -1, pidfile: '/run/k8pshd.pid' }, 'as the original');
});

t.test('docs/configuration.md: the default connectTimeoutMs', async (t) => {
  const config = parseConf('[ srv:2101 ]\ntrue\n', 'k8psh.conf', { env: {} });
  t.equal(config.connectTimeoutMs, documentedConnectTimeoutMs());
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import toml from 'toml';
import { convertConfToToml } from '../../src/config/convert.js';
import type { Config } from '../../src/config/model.js';
import { parseConf } from '../../src/config/parse.js';
import { parseToml } from '../../src/config/toml.js';
import { fixturesDir, plain, originalDir, repoRoot, throwsConfigError } from './fixtures/helpers.js';

type Env = Record<string, string | undefined>;

const loadToml = (text: string, env: Env = {}): Config => parseToml(text, '/etc/k8psh/k8psh.toml', { env });

/** Loads a conf and its converted TOML (beside it, same directory) with `env`, and compares. */
function roundTrip(t: Test, file: string, envs: Env[]): void {
  const text = readFileSync(file, 'utf8');
  const converted = convertConfToToml(text, file, { env: envs[0] ?? {} });
  const twin = file.replace(/\.conf$/, '.converted.toml');
  for (const env of envs) {
    const want = parseConf(text, file, { env });
    const got = parseToml(converted, twin, { env });
    t.strictSame(plain(got), plain(want), `${path.basename(file)} with ${JSON.stringify(env)}`);
  }
}

t.test('config/k8psh.toml is the twin of config/k8psh.conf', async (t) => {
  const conf = path.join(repoRoot, 'config/k8psh.conf');
  const tomlFile = path.join(repoRoot, 'config/k8psh.toml');
  for (const env of [{}, { K8PSH_BASE_DIRECTORY: '/work' }, { K8PSH_BASE_DIRECTORY: '', HOME: '/h' }]) {
    const a = parseConf(readFileSync(conf, 'utf8'), conf, { env });
    const b = parseToml(readFileSync(tomlFile, 'utf8'), tomlFile, { env });
    t.strictSame(plain(b), plain(a), JSON.stringify(env));
  }
  const config = parseConf(readFileSync(conf, 'utf8'), conf, { env: {} });
  t.equal(config.baseDirectory, repoRoot);
  t.strictSame([...config.hosts.keys()], ['local']);
  t.equal(config.hosts.get('local')?.port, 1120);
  t.ok(config.commands.has('uname') && config.commands.has('printenv') && config.commands.has('sh'));
  roundTrip(t, conf, [{}, { K8PSH_BASE_DIRECTORY: '/x' }]);
});

const example = path.join(originalDir, 'k8psh_example.conf');

t.test('the converter keeps load-time references and run-time text', async (t) => {
  const file = example;
  const converted = convertConfToToml(readFileSync(file, 'utf8'), file, { env: { WORKSPACE: '/today' } });
  const data = toml.parse(converted) as {
    baseDirectory: string;
    connectTimeoutMs: number;
    servers: Array<{ name: string; port?: number; commands?: Array<{ environment?: string[] }> }>;
  };
  t.equal(data.baseDirectory, '${WORKSPACE:-.}', 'not the value of today');
  t.notMatch(converted, /today/);
  t.equal(data.connectTimeoutMs, -1);
  t.strictSame(
    data.servers.map((s) => [s.name, s.port]),
    [
      ['gcc', 2102],
      ['java', undefined],
      ['gradle', undefined],
      ['make', undefined],
      ['DontDoThis', undefined],
    ],
  );
  t.strictSame(data.servers[1]?.commands?.[0]?.environment, [
    '?LD_LIBRARY_PATH=',
    '=LD_LIBRARY_PATH=$${LD_LIBRARY_PATH}:.',
  ]);
  roundTrip(t, file, [{}, { WORKSPACE: '/w' }, { WORKSPACE: '' }, { WORKSPACE: 'rel/../x' }]);
  const k8s = path.join(originalDir, 'k8s.conf');
  roundTrip(t, k8s, [{}, { K8PSH_TEST: 'x' }]);
});

t.test('the converter round-trips the fixtures in any environment', async (t) => {
  roundTrip(t, path.join(fixturesDir, 'quoting.conf'), [
    {},
    { TEST_ENV_1: 'blah', TEST_ENV_2: 'blah2' },
    { TEST_ENV_1: '/abs', UNSET: 'now set', A: 'a' },
  ]);
  roundTrip(t, path.join(fixturesDir, 'tricky.conf'), [
    {},
    { HOME: '/h', A: 'A', HOST: 'h', PORT: '4242', TIMEOUT: '-1', BASE: 'rel', U: 'u', E: 'e' },
    { HOST: 'alpha', PORT: '9', N: 'M', O: 'Q', I: 'J', S: '', OPT: '', RAW: 'r', X: '', Y: 'y', C: 'c' },
  ]);
  const converted = convertConfToToml(
    readFileSync(path.join(fixturesDir, 'tricky.conf'), 'utf8'),
    'tricky.conf',
    {
      env: {},
    },
  );
  t.match(converted, 'connectTimeoutMs = "${TIMEOUT:-250}"');
  t.match(converted, 'port = "${PORT:-3000}"');
  t.match(converted, 'name = "${HOST:-alpha}"');
});

t.test('the converter refuses a conf that does not load', async (t) => {
  throwsConfigError(t, () => convertConfToToml('[a:99999]\nc', 'k8psh.conf', { env: {} }), /port 99999/);
  throwsConfigError(t, () => convertConfToToml('[a]\nc "x', 'k8psh.conf', { env: {} }), /unterminated/);
  throwsConfigError(
    t,
    () => convertConfToToml('[a]\nc \ud800', 'k8psh.conf', { env: {} }),
    'k8psh.conf:2:3: lone UTF-16 surrogate at index 0 cannot be written in TOML',
  );
});

t.test('TOML schema', async (t) => {
  const config = loadToml(
    `
baseDirectory = "/srv/\${SUB:-x}/.."
connectTimeoutMs = "\${T:--1}"
[[servers]]
name = "first"
environment = ["=PATH=", "A=\${A}", "B=$\${B}", "C=$$", "D=$$\${D:-d}"]
options = ["--disable-client-executables"]
  [[servers.commands]]
  name = "one"
  environment = ["?CC="]
  executable = ["/usr/bin/gcc", "-x"]
  [[servers.commands]]
  name = "two"
  executable = []
[[servers]]
name = "empty"
[[servers]]
name = "third"
port = "\${P:-5000}"
commands = [{ name = "three" }]
[[servers]]
name = "fourth"
commands = [{ name = "four" }]
`,
    { A: 'a' },
  );
  t.equal(config.baseDirectory, '/srv');
  t.equal(config.connectTimeoutMs, -1);
  t.strictSame(config.hosts.get('first'), {
    name: 'first',
    port: 1120,
    environment: [
      { kind: 'inherited', name: 'PATH', value: '' },
      { kind: 'required', name: 'A', value: 'a' },
      { kind: 'required', name: 'B', value: '${B}' },
      { kind: 'required', name: 'C', value: '$' },
      { kind: 'required', name: 'D', value: '$d' },
    ],
    serverOptions: ['--disable-client-executables'],
    serverUid: undefined,
  });
  t.strictSame(config.commands.get('one')?.argv, ['/usr/bin/gcc', '-x']);
  t.strictSame(config.commands.get('one')?.environment.at(-1), { kind: 'optional', name: 'CC', value: '' });
  t.strictSame(config.commands.get('two')?.argv, ['two'], 'no executable: the name');
  t.notOk(config.hosts.has('empty'));
  t.equal(config.hosts.get('third')?.port, 5000);
  t.equal(config.hosts.get('fourth')?.port, 5001);
  t.equal(loadToml('').connectTimeoutMs, 30000);
  t.equal(loadToml('').baseDirectory, '/etc/k8psh');
  t.equal(loadToml('\ufeffconnectTimeoutMs = 3').connectTimeoutMs, 3);

  const warnings: string[] = [];
  parseToml('[[servers]]\nname = "${NOPE}x"\ncommands = [{name = "c"}]', 'k.toml', {
    env: {},
    warn: (m) => warnings.push(m),
  });
  t.strictSame(warnings, [
    'k.toml:2:1: environment variable "NOPE" is not set, substituting an empty string',
  ]);
});

t.test('bad TOML: located ConfigErrors', async (t) => {
  const file = 'k8psh.toml';
  const bad = (text: string, message: string | RegExp, what = text) =>
    throwsConfigError(t, () => parseToml(text, file, { env: {} }), message, what);
  bad('a = ', /^k8psh\.toml:1:5: invalid TOML: Expected/, 'syntax');
  bad('x = 1\nx = 2', "k8psh.toml:2:1: invalid TOML: Cannot redefine existing key 'x'.", 'duplicate key');
  bad('basedirectory = "x"', 'k8psh.toml:1:1: unknown key "basedirectory" in the top level');
  bad(
    '[[servers]]\nname = "a"\n  [[servers.commands]]\n  name = "c"\n  exe = ["x"]',
    'k8psh.toml:5:3: unknown key "exe" in servers[0].commands[0]',
  );
  bad('[[servers]]\nname = "a"\nnmae = "b"', 'k8psh.toml:3:1: unknown key "nmae" in servers[0]');
  bad('baseDirectory = 5', 'k8psh.toml:1:1: baseDirectory must be a string, not a number');
  bad('connectTimeoutMs = 1.5', 'k8psh.toml:1:1: connectTimeoutMs must be an integer, not a number 1.5');
  bad('connectTimeoutMs = true', 'k8psh.toml:1:1: connectTimeoutMs must be an integer, not a boolean');
  bad('connectTimeoutMs = "soon"', 'k8psh.toml:1:1: connectTimeoutMs must be an integer, not "soon"');
  bad('servers = 5', 'k8psh.toml:1:1: servers must be an array of tables, not a number');
  bad('servers = [5]', 'k8psh.toml:1:1: servers[0] must be a table, not a number');
  bad('[servers]\nname = "a"', 'k8psh.toml:1:1: servers must be an array of tables, not a table');
  bad('[[servers]]\nport = 1', 'k8psh.toml:1:1: servers[0] has no name');
  bad('[[servers]]\nname = 1', 'k8psh.toml:2:1: servers[0].name must be a string, not a number');
  bad('[[servers]]\nname = "a:1"', 'k8psh.toml:2:1: servers[0].name must not contain ":" (use port)');
  bad('[[servers]]\nname = "a"\nport = 70000', 'k8psh.toml:2:1: port 70000 is out of range (1-65535)');
  bad('[[servers]]\nname = "a"\nport = "x1"', 'k8psh.toml:3:1: invalid port "x1": digits expected');
  bad(
    '[[servers]]\nname = "a"\nport = 1.5',
    'k8psh.toml:3:1: servers[0].port must be an integer, not a number 1.5',
  );
  bad(
    '[[servers]]\nname = "a"\nenvironment = "A=1"',
    'k8psh.toml:3:1: servers[0].environment must be an array of strings, not a string',
  );
  bad(
    '[[servers]]\nname = "a"\nenvironment = ["A=1", "B"]',
    'k8psh.toml:3:1: servers[0].environment[1] is not an environment spec (NAME=value, ?NAME=value or =NAME=value)',
  );
  bad(
    '[[servers]]\nname = "a"\noptions = [1]',
    'k8psh.toml:3:1: servers[0].options[0] must be a string, not a number',
  );
  bad(
    '[[servers]]\nname = "a"\n[[servers.commands]]\nname = "c"\nexecutable = "x"',
    'k8psh.toml:5:1: servers[0].commands[0].executable must be an array of strings, not a string',
  );
  bad(
    '[[servers]]\nname = "a"\n[[servers.commands]]\nexecutable = ["x"]',
    'k8psh.toml:3:1: servers[0].commands[0] has no name',
  );
  bad(
    '[[servers]]\nname = "a"\ncommands = { name = "c" }',
    'k8psh.toml:3:1: servers[0].commands must be an array of tables, not a table',
  );
  bad(
    '[[servers]]\nname = ""\ncommands = [{ name = "c" }]',
    'k8psh.toml:2:1: empty host name in section header',
  );
  bad('x = 1979-05-27T07:32:00Z', 'k8psh.toml:1:1: unknown key "x" in the top level');
  bad('baseDirectory = 1979-05-27T07:32:00Z', 'k8psh.toml:1:1: baseDirectory must be a string, not a date');
});

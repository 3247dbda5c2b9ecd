/**
 * The section options of a remote section (issue 24, docs/remote.md): `--remote HOST[:PORT]`,
 * `--tls DIR`, `--tls-server-name NAME`, as k8psh.conf and TOML write them, `k8psh --convert-config`
 * carrying them over, and every malformed value a configuration error at the section. A
 * configuration without them means exactly what it meant before.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { convertConfToToml } from '../../src/config/convert.js';
import type { Config, RemoteSection } from '../../src/config/model.js';
import { parseConf } from '../../src/config/parse.js';
import { parseToml } from '../../src/config/toml.js';
import { parseServerOptions } from '../../src/server/options.js';
import { BIN, cleanup, run, SKIP_UNBUILT, tempDir, writeFile } from '../e2e/harness.js';
import { originalDir, plain, repoRoot, throwsConfigError } from './fixtures/helpers.js';

const FILE = '/etc/k8psh/k8psh.conf';
type Env = Record<string, string | undefined>;

/** The `tools` section's remote, from a conf whose `tools` header carries `options`. */
function remoteOf(options: string, env: Env = {}, file = FILE): RemoteSection | undefined {
  const config = parseConf(`[ tools:1120 ] ${options}\ngcc\n`, file, { env });
  return config.hosts.get('tools')!.remote;
}

t.test('--remote HOST[:PORT] and its defaults', async (t) => {
  t.strictSame(
    remoteOf('--remote tools.build.svc.cluster.local --tls /var/run/k8psh/tls'),
    {
      host: 'tools.build.svc.cluster.local',
      port: 1120,
      tlsDirectory: '/var/run/k8psh/tls',
      serverName: 'tools.build.svc.cluster.local',
    },
    'the port defaults to the section port, the server name to the host',
  );
  t.strictSame(remoteOf('--remote tools:2000 --tls /tls'), {
    host: 'tools',
    port: 2000,
    tlsDirectory: '/tls',
    serverName: 'tools',
  });
  t.strictSame(remoteOf('--remote 10.1.2.3:2000 --tls /tls'), {
    host: '10.1.2.3',
    port: 2000,
    tlsDirectory: '/tls',
    serverName: '10.1.2.3',
  });
  t.strictSame(
    remoteOf('--remote [fd00::1]:2000 --tls /tls'),
    {
      host: 'fd00::1',
      port: 2000,
      tlsDirectory: '/tls',
      serverName: 'fd00::1',
    },
    'IPv6 in brackets, with a port',
  );
  t.equal(remoteOf('--remote [fd00::1] --tls /tls')?.port, 1120, 'in brackets without one');
  t.strictSame(
    [remoteOf('--remote fd00::1:2000 --tls /tls')?.host, remoteOf('--remote fd00::1:2000 --tls /tls')?.port],
    ['fd00::1:2000', 1120],
    'an IPv6 address without brackets is all address: its last group is no port',
  );
  t.strictSame(
    remoteOf('--remote=tools:2000 --tls=/tls --tls-server-name=tools.test'),
    {
      host: 'tools',
      port: 2000,
      tlsDirectory: '/tls',
      serverName: 'tools.test',
    },
    '--option=value',
  );
  t.equal(remoteOf('--remote tools --tls /tls --tls-server-name tools.test')?.serverName, 'tools.test');
  t.equal(remoteOf('--remote a --remote b:7 --tls /x --tls /tls')?.host, 'b', 'the last of each wins');
  t.equal(remoteOf('--remote a --remote b:7 --tls /x --tls /tls')?.tlsDirectory, '/tls');
  t.equal(
    remoteOf('--remote ${TOOLS:-tools.test} --tls ${TLS_DIR}', { TLS_DIR: '/run/tls' })?.host,
    'tools.test',
    'load-time references resolve as in any option',
  );
  t.equal(
    remoteOf('--remote ${TOOLS:-tools.test} --tls ${TLS_DIR}', { TLS_DIR: '/run/tls' })?.tlsDirectory,
    '/run/tls',
  );
  t.equal(
    remoteOf('--remote tools --tls /tls --listen 0.0.0.0 --allow-identity build')?.host,
    'tools',
    'with server options',
  );
  // The port of a later section without its own: the next after the previous section's.
  const config = parseConf('[ a:3000 ]\nx\n[ tools ] --remote tools --tls /tls\ngcc\n', FILE, { env: {} });
  t.equal(config.hosts.get('tools')?.remote?.port, 3001);
});

t.test('a relative --tls is relative to the configuration file’s directory', async (t) => {
  t.equal(remoteOf('--remote tools --tls tls')?.tlsDirectory, '/etc/k8psh/tls');
  t.equal(remoteOf('--remote tools --tls ./secrets/../tls')?.tlsDirectory, '/etc/k8psh/tls');
  t.equal(remoteOf('--remote tools --tls ../tls')?.tlsDirectory, '/etc/tls');
  t.equal(remoteOf('--remote tools --tls tls', {}, '/work/ci/k8psh.conf')?.tlsDirectory, '/work/ci/tls');
  // Not the base directory's.
  const config = parseConf('baseDirectory = /work\n[ tools ] --remote tools --tls tls\ngcc\n', FILE, {
    env: {},
  });
  t.equal(config.baseDirectory, '/work');
  t.equal(config.hosts.get('tools')?.remote?.tlsDirectory, '/etc/k8psh/tls');
  const toml = parseToml(
    '[[servers]]\nname = "tools"\noptions = ["--remote", "tools", "--tls", "tls"]\n[[servers.commands]]\nname = "gcc"\n',
    '/srv/conf/k8psh.toml',
    { env: {} },
  );
  t.equal(toml.hosts.get('tools')?.remote?.tlsDirectory, '/srv/conf/tls', 'a TOML file’s too');
});

t.test('malformed remote options: a configuration error at the section', async (t) => {
  const at = `${FILE}:1:3: `;
  const cases: [string, string][] = [
    ['--remote tools:0 --tls /tls', '--remote "tools:0": invalid port "0"'],
    ['--remote tools:65536 --tls /tls', '--remote "tools:65536": invalid port "65536"'],
    ['--remote tools:http --tls /tls', '--remote "tools:http": invalid port "http"'],
    ['--remote tools: --tls /tls', '--remote "tools:": invalid port ""'],
    ['--remote [fd00::1]:x --tls /tls', '--remote "[fd00::1]:x": invalid port "x"'],
    ['--remote [tools]:80 --tls /tls', '--remote "[tools]:80": only an IPv6 address goes in brackets'],
    ['--remote fd00::zz:80 --tls /tls', '--remote "fd00::zz:80": invalid host'],
    ['--remote :80 --tls /tls', '--remote ":80": invalid host'],
    ['--remote tools/x --tls /tls', '--remote "tools/x": invalid host'],
    ['--remote tools', '--remote needs --tls DIR (a remote server is reached only over mutual TLS)'],
    ['--remote tools --tls=', '--remote needs --tls DIR (a remote server is reached only over mutual TLS)'],
    ['--tls /tls --remote', '--remote needs HOST[:PORT]'],
    ['--remote= --tls /tls', '--remote needs HOST[:PORT]'],
    ['--remote tools --tls /tls --tls-server-name', '--tls-server-name needs a name'],
    ['--remote tools --tls /tls --tls-server-name=', '--tls-server-name needs a name'],
  ];
  for (const [options, message] of cases)
    throwsConfigError(t, () => remoteOf(options), `${at}${message}`, options);
  throwsConfigError(
    t,
    () => remoteOf('--remote ${TOOLS}:${PORT} --tls /tls', { TOOLS: 'tools', PORT: '99999' }),
    `${at}--remote "tools:99999": invalid port "99999"`,
    'a port from the environment is checked as well',
  );
  throwsConfigError(
    t,
    () =>
      parseToml(
        '[[servers]]\nname = "tools"\noptions = ["--remote", "tools"]\n[[servers.commands]]\nname = "gcc"\n',
        '/etc/k8psh/k8psh.toml',
        { env: {} },
      ),
    /^\/etc\/k8psh\/k8psh\.toml:.*--remote needs --tls DIR/,
    'in TOML too',
  );
});

t.test('TOML says the same as k8psh.conf', async (t) => {
  const conf =
    '[ tools:1120 ] --listen 0.0.0.0 --tls tls --remote tools.test:2000 --tls-server-name k8psh-tools --allow-identity build\ngcc\nmake\n';
  const toml = [
    '[[servers]]',
    'name = "tools"',
    'port = 1120',
    'options = ["--listen", "0.0.0.0", "--tls", "tls", "--remote", "tools.test:2000", "--tls-server-name", "k8psh-tools", "--allow-identity", "build"]',
    '[[servers.commands]]',
    'name = "gcc"',
    '[[servers.commands]]',
    'name = "make"',
    '',
  ].join('\n');
  const a = parseConf(conf, '/etc/k8psh/k8psh.conf', { env: {} });
  const b = parseToml(toml, '/etc/k8psh/k8psh.toml', { env: {} });
  t.strictSame(plain(b), plain(a));
  t.strictSame(b.hosts.get('tools')?.remote, {
    host: 'tools.test',
    port: 2000,
    tlsDirectory: '/etc/k8psh/tls',
    serverName: 'k8psh-tools',
  });
});

t.test('--convert-config carries the options over', async (t) => {
  const conf =
    '# the remote tools\n[ tools:1120 ] --listen 0.0.0.0 --tls ${TLS_DIR:-tls} --remote=[fd00::7]:2000 --tls-server-name tools.test --allow-identity build,DNS:build.ci\ngcc\n[ local:1130 ]\nsh\n';
  for (const env of [{}, { TLS_DIR: '/var/run/k8psh/tls' }]) {
    const converted = convertConfToToml(conf, FILE, { env });
    const twin = parseToml(converted, '/etc/k8psh/k8psh.toml', { env });
    const original = parseConf(conf, FILE, { env });
    t.strictSame(plain(twin), plain(original), JSON.stringify(env));
    t.strictSame(twin.hosts.get('tools')?.remote, {
      host: 'fd00::7',
      port: 2000,
      tlsDirectory: env.TLS_DIR ?? '/etc/k8psh/tls',
      serverName: 'tools.test',
    });
    t.equal(twin.hosts.get('local')?.remote, undefined);
    t.match(converted, /options = \[.*"--remote=\[fd00::7\]:2000".*\]/, 'written as given');
    t.match(converted, /"\$\{TLS_DIR:-tls\}"/, 'references stay references');
  }
  throwsConfigError(
    t,
    () => convertConfToToml('[ tools ] --remote tools\ngcc\n', FILE, { env: {} }),
    /--remote needs --tls DIR/,
    'a conf that does not load is not converted',
  );
});

t.test('k8psh --convert-config, the executable', { skip: SKIP_UNBUILT }, async (t) => {
  const dir = tempDir('k8psh-remote-convert-');
  t.teardown(() => cleanup(dir));
  const conf = '[ tools:1120 ] --listen 0.0.0.0 --tls tls --remote tools.test --allow-identity build\ngcc\n';
  const file = writeFile(path.join(dir, 'k8psh.conf'), conf);
  const r = await run(BIN, ['--convert-config', file], { env: { PATH: process.env.PATH } });
  t.equal(r.code, 0, { stderr: r.err });
  const twin = parseToml(r.out, path.join(dir, 'k8psh.toml'), { env: {} });
  t.strictSame(plain(twin), plain(parseConf(conf, file, { env: {} })));
  t.equal(twin.hosts.get('tools')?.remote?.tlsDirectory, path.join(dir, 'tls'));
  const bad = writeFile(path.join(dir, 'bad.conf'), '[ tools ] --remote tools:0 --tls tls\ngcc\n');
  const refused = await run(BIN, ['--convert-config', bad], { env: { PATH: process.env.PATH } });
  t.equal(refused.code, 1);
  t.equal(refused.err, `k8psh: ${bad}:1:3: --remote "tools:0": invalid port "0"\n`);
  t.equal(refused.out, '');
});

t.test('a configuration without them keeps its exact meaning', async (t) => {
  const files = [
    path.join(originalDir, 'k8psh_example.conf'),
    path.join(repoRoot, 'config/k8psh.conf'),
    path.join(repoRoot, 'config/k8psh.toml'),
  ];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const config: Config = file.endsWith('.toml')
      ? parseToml(text, file, { env: {} })
      : parseConf(text, file, { env: {} });
    t.ok(config.hosts.size > 0, path.basename(file));
    for (const host of config.hosts.values())
      t.notOk('remote' in host, `${path.basename(file)}: ${host.name} has no remote at all`);
  }
  // Other options beside them change nothing either, nor do server-only remote options.
  const config = parseConf(
    '[ a:1 ] --server-uid 1000 --listen 0.0.0.0 --tls /tls --allow-identity x\ngcc\n',
    FILE,
    { env: {} },
  );
  t.notOk('remote' in config.hosts.get('a')!, 'a server listening with TLS is not itself remote');
  t.equal(config.hosts.get('a')?.serverUid, 1000);
});

t.test('the section options are k8pshd options too', async (t) => {
  const section = [
    '--listen',
    '0.0.0.0',
    '--tls',
    '/tls',
    '--remote',
    'tools',
    '--tls-server-name',
    'tools.test',
    '--allow-identity',
    'a,b',
  ];
  const options = (await parseServerOptions(
    [...section, '--allow-identity', 'c', '--allow-identity', 'd'],
    () => {},
    section.length,
  ))!;
  t.strictSame(options.listen, ['0.0.0.0']);
  t.equal(options.tls, '/tls');
  t.strictSame(options.allowIdentities, ['c', 'd'], 'the command line replaces the section');
  const sectionOnly = (await parseServerOptions(section, () => {}, section.length))!;
  t.strictSame(sectionOnly.allowIdentities, ['a', 'b']);
  const warnings: string[] = [];
  await parseServerOptions(section, (m) => warnings.push(m), section.length);
  t.strictSame(warnings, [], 'client-only options are accepted and ignored');
});

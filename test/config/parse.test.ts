import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Config } from '../../src/config/model.js';
import { parseConf } from '../../src/config/parse.js';
import { originalDir } from './fixtures/helpers.js';

const FILE = '/etc/k8psh/k8psh.conf';

function load(text: string, env: Record<string, string | undefined> = {}, warnings: string[] = []): Config {
  return parseConf(text, FILE, { env, warn: (m) => warnings.push(m) });
}

function command(config: Config, name: string): { host: string; environment: unknown[]; argv: string[] } {
  const found = config.commands.get(name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
}

const example = path.join(originalDir, 'k8psh_example.conf');
const k8s = path.join(originalDir, 'k8s.conf');

t.test("the original's example configuration loads", async (t) => {
  const file = example;
  const warnings: string[] = [];
  const config = parseConf(readFileSync(file, 'utf8'), file, { env: {}, warn: (m) => warnings.push(m) });
  t.equal(config.file, file);
  t.equal(config.baseDirectory, originalDir, 'WORKSPACE unset: the directory of the file');
  t.equal(config.connectTimeoutMs, -1);
  t.strictSame([...config.hosts.keys()], ['gcc', 'java', 'gradle', 'make'], 'DontDoThis does not exist');
  t.notOk(config.hosts.has('DontDoThis'));
  t.strictSame(config.hosts.get('gcc'), {
    name: 'gcc',
    port: 2102,
    environment: [{ kind: 'inherited', name: 'PATH', value: '' }],
    serverOptions: ['--disable-client-executables'],
    serverUid: undefined,
  });
  t.equal(config.hosts.get('java')?.port, 2103);
  t.equal(config.hosts.get('gradle')?.port, 2104);
  t.equal(config.hosts.get('make')?.port, 2105);
  const path_ = [{ kind: 'inherited', name: 'PATH', value: '' }];
  t.strictSame(config.commands.get('gcc'), { name: 'gcc', host: 'gcc', environment: path_, argv: ['gcc'] });
  t.strictSame(config.commands.get('g++'), { name: 'g++', host: 'gcc', environment: path_, argv: ['g++'] });
  t.strictSame(config.commands.get('java'), {
    name: 'java',
    host: 'java',
    environment: [
      { kind: 'optional', name: 'LD_LIBRARY_PATH', value: '' },
      { kind: 'inherited', name: 'LD_LIBRARY_PATH', value: '${LD_LIBRARY_PATH}:.' },
    ],
    argv: ['/lib/ld-linux-x86-64.so.2', '/usr/bin/java'],
  });
  t.strictSame(config.commands.get('gradle'), {
    name: 'gradle',
    host: 'gradle',
    environment: [
      { kind: 'optional', name: 'GRADLE_USER_HOME', value: '' },
      { kind: 'optional', name: 'GRADLE_OPTS', value: '' },
    ],
    argv: ['gradle'],
  });
  t.strictSame(config.commands.get('javac'), {
    name: 'javac',
    host: 'gradle',
    environment: [],
    argv: ['javac'],
  });
  t.strictSame(config.commands.get('make'), { name: 'make', host: 'make', environment: [], argv: ['make'] });
  t.strictSame([...config.commands.keys()], ['gcc', 'g++', 'java', 'gradle', 'javac', 'make']);
  t.strictSame(warnings, []);

  const withWorkspace = parseConf(readFileSync(file, 'utf8'), file, {
    env: { WORKSPACE: '/workspace/./x/..' },
  });
  t.equal(withWorkspace.baseDirectory, '/workspace', 'WORKSPACE set: used, normalised');
  const relative = parseConf(readFileSync(file, 'utf8'), file, { env: { WORKSPACE: '../w' } });
  t.equal(relative.baseDirectory, path.resolve(originalDir, '../w'), 'relative to the directory of the file');
});

t.test("the original's k8s.conf loads", async (t) => {
  const file = k8s;
  const config = parseConf(readFileSync(file, 'utf8'), file, { env: {} });
  t.equal(config.baseDirectory, path.resolve(originalDir, '../..'));
  t.equal(config.connectTimeoutMs, 30000, 'default timeout');
  t.strictSame(
    [...config.hosts.values()],
    [
      {
        name: 'server',
        port: 1120,
        environment: [{ kind: 'inherited', name: 'K8PSH_TEST', value: '' }],
        serverOptions: [],
        serverUid: undefined,
      },
    ],
  );
  t.strictSame([...config.commands.keys()], ['printenv', 'pwd', 'uname']);
  for (const name of ['printenv', 'pwd', 'uname']) {
    t.strictSame(config.commands.get(name), {
      name,
      host: 'server',
      environment: [{ kind: 'inherited', name: 'K8PSH_TEST', value: '' }],
      argv: [name],
    });
  }
});

t.test('quoting: pieces, escapes, load-time and run-time references', async (t) => {
  const warnings: string[] = [];
  const config = load(
    `[ blah:1895 ] # section tags are strings, so spaces can be inside []
blah A=\${UNSET} ?B="$"'{A}'"" test blah-real 'First 'Arg "\\"Escaped\\"\\tArg """
['blah 2'] arg1
other ENV= # only the name is required`,
    {},
    warnings,
  );
  t.strictSame(command(config, 'blah'), {
    name: 'blah',
    host: 'blah',
    environment: [
      { kind: 'required', name: 'A', value: '' },
      { kind: 'optional', name: 'B', value: '${A}' },
    ],
    argv: ['test', 'blah-real', 'First Arg', '"Escaped"\tArg "'],
  });
  t.strictSame(warnings, [
    '/etc/k8psh/k8psh.conf:2:6: environment variable "UNSET" is not set, substituting an empty string',
  ]);
  t.strictSame(config.hosts.get('blah 2'), {
    name: 'blah 2',
    port: 1896,
    environment: [],
    serverOptions: ['arg1'],
    serverUid: undefined,
  });
  t.strictSame(command(config, 'other'), {
    name: 'other',
    host: 'blah 2',
    environment: [{ kind: 'required', name: 'ENV', value: '' }],
    argv: ['other'],
  });
});

t.test('double-quoted escapes', async (t) => {
  const config = load(
    `[h]\nc x "\\"\\\\\\'\\b\\t\\n\\f\\r\\0\\x41\\x7e\\x9E\\xfF" "a""b" "" 'it''s' '#' "#"`,
  );
  t.strictSame(command(config, 'c').argv, ['x', '"\\\'\b\t\n\f\r\0A~\x9e\xff', 'a"b', '', "it's", '#', '#']);
});

t.test('whitespace is space, tab, CR, LF, VT and FF; # starts a comment outside quotes', async (t) => {
  const config = load(
    '\r\n\f# comment\r\nconnectTimeoutMs\t=\v5 \r\n[\th\f]\r\n\tc\va\fb\rc # d e\r\nd#comment\r\ne x#y\n',
  );
  t.equal(config.connectTimeoutMs, 5);
  t.strictSame(command(config, 'c').argv, ['a', 'b', 'c']);
  t.strictSame(command(config, 'd').argv, ['d']);
  t.strictSame(command(config, 'e').argv, ['x']);
});

t.test('a quoted string may span lines (outside section brackets)', async (t) => {
  const config = load('[h]\nc \'a\nb\' "c\nd"\nnext');
  t.strictSame(command(config, 'c').argv, ['a\nb', 'c\nd']);
  t.strictSame(command(config, 'next').argv, ['next']);
});

t.test('load-time substitution', async (t) => {
  const env = { SET: 'v', EMPTY: '', SPACE: 'x y', 'A B': 'ab', 'F(1).x-y': 'paren' };
  const warnings: string[] = [];
  const config = load(
    `[h]
c \${SET} \${EMPTY:-d} \${UNSET:-d} \${UNSET:-} "\${SPACE}" \${SET}\${SET}x '\${SET}' "\${A B}" \${F(1).x-y} \${UNSET}
lit \${SET \${:x} \${SET:x} a\${ \${SET:-no-close $\${SET} "\${SET:-a b}" \${SET:-a b}
esc "\\x24{SET}" "\\x24"'{SET}'`,
    env,
    warnings,
  );
  t.strictSame(command(config, 'c').argv, ['v', '', 'd', '', 'x y', 'vvx', '${SET}', 'ab', 'paren', '']);
  t.strictSame(command(config, 'lit').argv, [
    '${SET',
    '${:x}',
    '${SET:x}',
    'a${',
    '${SET:-no-close',
    '$v',
    'v',
    '${SET:-a',
    'b}',
  ]);
  t.strictSame(
    command(config, 'esc').argv,
    ['v', '${SET}'],
    'escapes are decoded before substitution, per piece',
  );
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^\/etc\/k8psh\/k8psh\.conf:2:\d+: environment variable "UNSET" is not set/);
  t.strictSame(load('[h]\nc ${UNSET}').commands.get('c')?.argv, [''], 'no warn callback: silent');
  t.strictSame(
    load('[h]\nc ${UNSET}', { UNSET: undefined }).commands.get('c')?.argv,
    [''],
    'undefined is unset',
  );
  t.strictSame(
    load('[h]\nc ${constructor} ${toString:-d}').commands.get('c')?.argv,
    ['', 'd'],
    'own keys only',
  );
});

t.test('common settings', async (t) => {
  let config = load('');
  t.equal(config.baseDirectory, '/etc/k8psh', 'default: the directory of the file');
  t.equal(config.connectTimeoutMs, 30000);
  t.strictSame([...config.hosts], []);
  t.strictSame([...config.commands], []);

  config = load('baseDirectory=/abs//x/./y/../z\nconnectTimeoutMs=-1');
  t.equal(config.baseDirectory, '/abs/x/z');
  t.equal(config.connectTimeoutMs, -1);
  t.equal(load('baseDirectory = a/../b/./c').baseDirectory, '/etc/k8psh/b/c');
  t.equal(load('baseDirectory = ../..').baseDirectory, '/');
  t.equal(load('baseDirectory = ""').baseDirectory, '/etc/k8psh', 'empty: the directory of the file');
  t.equal(load('baseDirectory = # nothing').baseDirectory, '/etc/k8psh');
  t.equal(load('"baseDirectory" = "/a b"').baseDirectory, '/a b', 'keys and values are strings');
  t.equal(load('baseDirectory = /a\nbaseDirectory = /b').baseDirectory, '/b', 'the last one wins');
  t.equal(load('connectTimeoutMs = +7').connectTimeoutMs, 7);
  t.equal(load('connectTimeoutMs = -0').connectTimeoutMs, 0);
  t.equal(load('connectTimeoutMs = ${T:-12}').connectTimeoutMs, 12);
  t.equal(load('connectTimeoutMs = ${T:-12}', { T: '-5' }).connectTimeoutMs, -5);
  t.equal(load('connectTimeoutMs = 2147483647').connectTimeoutMs, 2147483647);
  t.equal(parseConf('', 'k8psh.conf', { env: {} }).baseDirectory, process.cwd(), 'a relative file: from cwd');
  t.equal(load('\ufeffconnectTimeoutMs = 1').connectTimeoutMs, 1, 'a byte order mark is ignored');
});

t.test('sections and ports', async (t) => {
  const config = load(`
[ a ]
a
[b:2000]
b
[empty]
[ c ]
c
["d e":7]
d
[ f:9 ]
f
['g:'8]
g
[h:0010]
h`);
  t.strictSame(
    [...config.hosts.values()].map((h) => [h.name, h.port]),
    [
      ['a', 1120],
      ['b', 2000],
      ['c', 2002],
      ['d e', 7],
      ['f', 9],
      ['g', 8],
      ['h', 10],
    ],
    'missing port: previous + 1; an empty section still takes its number',
  );
  t.notOk(config.hosts.has('empty'));
  t.strictSame(load('[a:65535]\nx').hosts.get('a')?.port, 65535);
  t.strictSame(load('[${H:-x}:${P:-1300}]\nc', { P: '1400' }).hosts.get('x')?.port, 1400);
});

t.test('section env specs and server options', async (t) => {
  let config = load('[s] A=1 ?B= =C=x=y --opt D=2 plain\nc\nd E=e exe');
  t.strictSame(config.hosts.get('s'), {
    name: 's',
    port: 1120,
    environment: [
      { kind: 'required', name: 'A', value: '1' },
      { kind: 'optional', name: 'B', value: '' },
      { kind: 'inherited', name: 'C', value: 'x=y' },
    ],
    serverOptions: ['--opt', 'D=2', 'plain'],
    serverUid: undefined,
  });
  t.strictSame(command(config, 'd').environment, [
    { kind: 'required', name: 'A', value: '1' },
    { kind: 'optional', name: 'B', value: '' },
    { kind: 'inherited', name: 'C', value: 'x=y' },
    { kind: 'required', name: 'E', value: 'e' },
  ]);
  config = load('[s] plain A=1\nc');
  t.strictSame(config.hosts.get('s')?.environment, []);
  t.strictSame(config.hosts.get('s')?.serverOptions, ['plain', 'A=1']);
  config = load('[s] --a=1 =B\nc');
  t.strictSame(
    config.hosts.get('s')?.serverOptions,
    ['--a=1', '=B'],
    'a token starting with -- is an option',
  );
  config = load('[s] =B\nc');
  t.strictSame(config.hosts.get('s')?.serverOptions, ['=B'], '= only at position 0: not a spec');
});

t.test('command lines', async (t) => {
  const config = load(`[h]
a A=1 exe B=2 --x
b A=b=c
c =X
d A=1 '' x
e ?O= =I=
f "A=1" 'B'=2 "C"'='3
g A=1 ""
`);
  t.strictSame(command(config, 'a'), {
    name: 'a',
    host: 'h',
    environment: [{ kind: 'required', name: 'A', value: '1' }],
    argv: ['exe', 'B=2', '--x'],
  });
  t.strictSame(command(config, 'b').environment, [{ kind: 'required', name: 'A', value: 'b=c' }]);
  t.strictSame(command(config, 'b').argv, ['b'], 'no executable: the name');
  t.strictSame(command(config, 'c').argv, ['=X'], '= only at position 0: the executable');
  t.strictSame(command(config, 'd').argv, ['', 'x'], 'an empty token ends the specs');
  t.strictSame(command(config, 'g').argv, [''], 'an empty token ends the specs');
  t.strictSame(command(config, 'f').environment, [
    { kind: 'required', name: 'A', value: '1' },
    { kind: 'required', name: 'B', value: '2' },
    { kind: 'required', name: 'C', value: '3' },
  ]);
  t.throws(() => load('[h]\ne ?=x'), /invalid environment variable name ""/);
});

t.test('structure comes from the text, never from what a variable expands to', async (t) => {
  const env = { SPEC: 'A=1', HOST: 'a:99', NAME: 'N', OPT: '--x' };
  const config = load('[${HOST}] ${SPEC}\nc ${SPEC} ${NAME}=v\n[b] A=${SPEC}\nd', env);
  t.strictSame(config.hosts.get('a:99'), {
    name: 'a:99',
    port: 1120,
    environment: [],
    serverOptions: ['A=1'],
    serverUid: undefined,
  });
  t.strictSame(command(config, 'c').argv, ['A=1', 'N=v'], 'a variable holding A=1 is an argument');
  t.strictSame(command(config, 'd').environment, [{ kind: 'required', name: 'A', value: 'A=1' }]);
  const named = load('[h]\nc ${NAME}=v x', env);
  t.strictSame(command(named, 'c').environment, [{ kind: 'required', name: 'N', value: 'v' }]);
  t.throws(() => load('[h]\nc ${SPEC}=v x', env), /invalid environment variable name "A=1"/);
});

t.test('merging hosts and redefining commands', async (t) => {
  const warnings: string[] = [];
  const config = load(
    `[a:3000] S=1 --one
x
[b]
y
[a:5000] T=2 --two
z
[unused:4000] --ignored
[a] U=3 --three
`,
    {},
    warnings,
  );
  t.strictSame(config.hosts.get('a'), {
    name: 'a',
    port: 3000,
    environment: [
      { kind: 'required', name: 'S', value: '1' },
      { kind: 'required', name: 'T', value: '2' },
    ],
    serverOptions: ['--one', '--two'],
    serverUid: undefined,
  });
  t.strictSame(command(config, 'x').environment, [{ kind: 'required', name: 'S', value: '1' }]);
  t.strictSame(
    command(config, 'z').environment,
    [{ kind: 'required', name: 'T', value: '2' }],
    'own section only',
  );
  t.equal(config.hosts.get('b')?.port, 3001);
  t.strictSame(warnings, [
    '/etc/k8psh/k8psh.conf:5:2: host "a" already uses port 3000, port 5000 is ignored',
  ]);

  const redefined = load('[a]\nx 1\ny\n[b]\nx 2\n[c]\ny\n');
  t.strictSame(
    redefined.commands.get('x'),
    { name: 'x', host: 'b', environment: [], argv: ['2'] },
    'the last wins',
  );
  t.strictSame([...redefined.commands.keys()], ['x', 'y']);
  t.strictSame([...redefined.hosts.keys()], ['b', 'c'], 'a host left without commands does not exist');
  t.equal(redefined.hosts.get('b')?.port, 1121);
});

t.test('a setting inside a section is a command (with a warning)', async (t) => {
  const warnings: string[] = [];
  const config = load('[h]\nbaseDirectory = ../..\n', {}, warnings);
  t.strictSame(command(config, 'baseDirectory').argv, ['=', '../..']);
  t.equal(config.baseDirectory, '/etc/k8psh');
  t.strictSame(warnings, [
    '/etc/k8psh/k8psh.conf:2:1: this line defines a command named "baseDirectory"; settings must come before the first section',
  ]);
  t.strictSame(
    load('[DontDoThis] --x\n# only a comment').hosts.size,
    0,
    'a section with no commands does not exist',
  );
});

t.test("--server-uid among a section's options: the uid stubs trust for that server", async (t) => {
  const uid = (text: string): number | undefined =>
    parseConf(text, 'k.conf', { env: {} }).hosts.get('s')?.serverUid;
  t.equal(uid('[ s ] --server-uid=1000\nc\n'), 1000);
  t.equal(uid('[ s ] --server-uid 0 -k\nc\n'), 0, 'the two-word form');
  t.equal(uid('[ s ] --server-uid=5\nc\n[ s ] --server-uid=7\nd\n'), 7, 'the last one of merged sections');
  t.equal(uid('[ s ] --server-uid=5\nc\n[ s ] -k\nd\n'), 5, 'kept when a later section names none');
  t.equal(uid('[ s ] -k\nc\n'), undefined, 'none named');
  for (const bad of ['--server-uid=x', '--server-uid=-1', '--server-uid=4294967295', '--server-uid'])
    t.throws(
      () => uid(`[ s ] ${bad}\nc\n`),
      { message: /--server-uid must be a uid from 0 to 4294967294/ },
      bad,
    );
});

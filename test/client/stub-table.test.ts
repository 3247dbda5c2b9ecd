/**
 * The compiled table of native stubs (docs/native-stubs.md): the layout byte for byte against a
 * table built by hand from the document, the decoder of test/lib (written from the document)
 * against the encoder, exactly which variables the loader read, and the writer's refusals.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { recordEnv } from '../../src/config/env-recorder.js';
import { loadChosenConfig, loadConfigFile } from '../../src/config/load.js';
import { parseConf } from '../../src/config/parse.js';
import { fnv1a64Hex } from '../../src/client/fnv1a64.js';
import { refreshStubTable, tableFor, tableKey } from '../../src/client/refresh-stub-table.js';
import { encodeStubTable } from '../../src/client/stub-table.js';
import { decodeStubTable, fnv1a64, tableFileName } from '../lib/stub-table.mjs';

/** Little-endian pieces, spelt out: the expected table is written from the document, not the encoder. */
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const str = (s: string | Buffer): number[] => {
  const b = Buffer.from(s);
  return [...u32(b.length), ...b];
};

t.test('FNV-1a 64: published vectors, and the two implementations agree', async (t) => {
  for (const [text, hex] of [
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ] as const) {
    t.equal(fnv1a64Hex(Buffer.from(text)), hex, JSON.stringify(text));
    t.equal(fnv1a64(text).toString(16).padStart(16, '0'), hex);
  }
  const data = Buffer.alloc(4099);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  t.equal(fnv1a64Hex(data), fnv1a64(data).toString(16).padStart(16, '0'));
});

t.test('the layout, byte for byte, as the document draws it', async (t) => {
  const text = 'connectTimeoutMs = ${T:-250}\n[ h:2000 ] A=1\ncc ?B= =C=x A=2 /usr/bin/cc\nld\n';
  const recording = recordEnv({ B: 'b', T: undefined });
  const config = parseConf(text, '/w/k8psh.conf', { env: recording.env });
  const table = encodeStubTable({
    buildId: 'id1',
    key: '/w/k8psh.conf',
    k8pshConfig: undefined,
    content: Buffer.from(text),
    variables: recording.reads,
    config,
  });
  const body = Buffer.from([
    ...str('id1'),
    ...str('/w/k8psh.conf'),
    0, // K8PSH_CONFIG absent
    ...str(text),
    ...u32(1), // one variable read: T, unset
    ...str('T'),
    0,
    ...str('/w'),
    ...[250, 0, 0, 0, 0, 0, 0, 0], // i64 connectTimeoutMs
    ...u32(2),
    ...str('cc'),
    ...str('h'),
    ...u32(2000),
    ...u32(0xffffffff), // no --server-uid
    ...u32(2), // A (section spec), B; C is inherited, the second A a repeat
    ...str('A'),
    ...str('B'),
    ...str('ld'),
    ...str('h'),
    ...u32(2000),
    ...u32(0xffffffff),
    ...u32(1),
    ...str('A'),
  ]);
  t.same(table.subarray(0, 8), Buffer.from('K8PSHNS2'), 'magic at 0');
  t.equal(table.readUInt32LE(8), body.length, 'body length at 8');
  t.equal(table.readUInt32LE(12), 0, 'reserved at 12');
  t.equal(table.readBigUInt64LE(16), fnv1a64(body), 'FNV-1a 64 of the body at 16');
  t.same(table.subarray(24), body, 'the body from 24');
  t.equal(table.length, 24 + body.length, 'nothing else');

  const decoded = decodeStubTable(table);
  t.same(decoded.commands, [
    { name: 'cc', host: 'h', port: 2000, serverUid: undefined, send: ['A', 'B'] },
    { name: 'ld', host: 'h', port: 2000, serverUid: undefined, send: ['A'] },
  ]);
  const named = parseConf('[ h:2000 ] --server-uid=1000\ncc\n', '/w/k8psh.conf', { env: {} });
  const withUid = encodeStubTable({
    buildId: 'id1',
    key: '/w/k8psh.conf',
    k8pshConfig: undefined,
    content: Buffer.from('x'),
    variables: new Map(),
    config: named,
  });
  t.same(
    decodeStubTable(withUid).commands,
    [{ name: 'cc', host: 'h', port: 2000, serverUid: 1000, send: [] }],
    'the uid of --server-uid after the port',
  );
});

t.test('round trip through the decoder of the document; damage is detected', async (t) => {
  const content = Buffer.from('[ s ] ?Ü=\n\u00e9t\u00e9 X=${Y} /bin/true\n[ s2:65535 ]\nneg\n');
  const recording = recordEnv({ Y: '', K8PSH_CONFIG: 'rel.conf' });
  const config = parseConf(content.toString(), '/a/b/rel.conf', { env: recording.env });
  config.connectTimeoutMs = -1;
  const table = encodeStubTable({
    buildId: '70c87d63a73bb879',
    key: '/a/b/rel.conf',
    k8pshConfig: 'rel.conf',
    content,
    variables: recording.reads,
    config,
  });
  const decoded = decodeStubTable(table);
  t.same(decoded, {
    buildId: '70c87d63a73bb879',
    key: '/a/b/rel.conf',
    k8pshConfig: 'rel.conf',
    content,
    variables: [['Y', '']],
    baseDirectory: '/a/b',
    connectTimeoutMs: -1,
    commands: [
      { name: 'été', host: 's', port: 1120, send: ['Ü', 'X'] },
      { name: 'neg', host: 's2', port: 65535, send: [] },
    ],
  });
  const flipped = Buffer.from(table);
  flipped[flipped.length - 1]! ^= 1;
  t.throws(() => decodeStubTable(flipped), /checksum/);
  t.throws(() => decodeStubTable(Buffer.concat([table, Buffer.of(0)])), /body length/);
  t.throws(() =>
    encodeStubTable({
      buildId: 'x',
      key: '/k',
      k8pshConfig: undefined,
      content: Buffer.alloc(1024 * 1024 + 1),
      variables: new Map(),
      config,
    }),
  );
});

/** The names read, in order, with their values: what a table records. */
async function readsOf(
  t: Test,
  file: string,
  text: string,
  env: NodeJS.ProcessEnv,
): Promise<Array<[string, string | undefined]>> {
  const dir = t.testdir({ [file]: text });
  const recording = recordEnv(env);
  await loadConfigFile(path.join(dir, file), { env: recording.env });
  t.equal(recording.unusable(), undefined);
  return [...recording.reads];
}

t.test('the variables the loader read: exactly those, once, with their values or absence', async (t) => {
  const conf = [
    '# ${IN_A_COMMENT}',
    'baseDirectory = ${BASE:-.}',
    'connectTimeoutMs = "${TIMEOUT:-5}"',
    '[ ${HOST}:${PORT} ] SEC=${SEC_DEFAULT:-s} --opt=${OPT}',
    'cmd A=${A_DEFAULT} B=\'${SINGLE_QUOTED}\' C="${DOUBLE}" ${ARG} ${HOST}',
    '${NAME:-named}',
    '[ empty:9 ] X=${NOT_READ_NO_COMMANDS}',
    '[ ${LAST_HOST:-h2} ]',
    'c2 =I=${INHERITED_DEFAULT}',
    '',
  ].join('\n');
  const env = {
    BASE: '.',
    TIMEOUT: '',
    HOST: 'h',
    PORT: '2000',
    A_DEFAULT: 'set empty next',
    DOUBLE: '',
    SINGLE_QUOTED: 'never read',
    NOT_READ_NO_COMMANDS: 'never read',
    UNRELATED: 'never read',
  };
  // TIMEOUT set and empty wins over its default: connectTimeoutMs would be "" (an error), so
  // the base case sets it to 7 and the empty case is DOUBLE.
  t.same(await readsOf(t, 'k8psh.conf', conf, { ...env, TIMEOUT: '7' }), [
    ['BASE', '.'],
    ['TIMEOUT', '7'],
    ['HOST', 'h'],
    ['PORT', '2000'],
    ['SEC_DEFAULT', undefined],
    ['OPT', undefined],
    ['A_DEFAULT', 'set empty next'],
    ['DOUBLE', ''],
    ['ARG', undefined],
    ['NAME', undefined],
    ['LAST_HOST', undefined],
    ['INHERITED_DEFAULT', undefined],
  ]);

  const toml = [
    'baseDirectory = "${BASE}"',
    '[[servers]]',
    'name = "${HOST:-h}"',
    'port = 2000',
    'environment = ["S=$${ESCAPED}", "T=${TOML_SPEC}"]',
    '[[servers.commands]]',
    'name = "c"',
    'executable = ["${EXE}", "${EXE}"]',
    '',
  ].join('\n');
  t.same(await readsOf(t, 'k8psh.toml', toml, { EXE: '/bin/x', BASE: '' }), [
    ['BASE', ''],
    ['HOST', undefined],
    ['TOML_SPEC', undefined],
    ['EXE', '/bin/x'],
  ]);
});

t.test(
  'K8PSH_CONFIG is a variable the loader read; enumeration or writes make a recording unusable',
  async (t) => {
    const dir = t.testdir({ 'k8psh.conf': '[h]\nc\n' });
    const recording = recordEnv({ K8PSH_CONFIG: path.join(dir, 'k8psh.conf') });
    await loadChosenConfig(undefined, { env: recording.env }, 'x');
    t.same([...recording.reads], [['K8PSH_CONFIG', path.join(dir, 'k8psh.conf')]]);

    const enumerated = recordEnv({ A: '1' });
    t.same(Object.keys(enumerated.env), ['A']);
    t.match(enumerated.unusable(), /enumerated/);
    const spread = recordEnv({ A: '1' });
    void { ...spread.env };
    t.match(spread.unusable(), /enumerated/);
    const written = recordEnv({});
    written.env.A = '1';
    t.match(written.unusable(), /written/);
    // Without the front, the caller's view is process.env itself (an exotic object): the same.
    const name = `K8PSH_RECORD_TEST_${process.pid}`;
    process.env[name] = 'v';
    const real = recordEnv(process.env);
    t.ok(Object.prototype.hasOwnProperty.call(real.env, name));
    t.equal(real.env[name], 'v');
    t.equal(real.env[`${name}_UNSET`], undefined);
    t.same(
      [...real.reads],
      [
        [name, 'v'],
        [`${name}_UNSET`, undefined],
      ],
    );
    delete process.env[name];
    const symbols = recordEnv({ A: '1' });
    void (symbols.env as Record<symbol, unknown>)[Symbol.toPrimitive];
    t.equal(symbols.unusable(), undefined, 'a symbol is no variable');
    t.same([...symbols.reads], []);
  },
);

t.test('the writer: key, file name, refusals, atomic result', async (t) => {
  const dir = t.testdir({ 'k8psh.conf': '[h:7]\nc ?V=\n', cache: {} });
  const file = path.join(dir, 'k8psh.conf');
  const load = async (env: NodeJS.ProcessEnv) => {
    const recording = recordEnv(env);
    const loaded = await loadConfigFile(file, { env: recording.env, keepContent: true });
    return { file, ...loaded, recording, k8pshConfig: env.K8PSH_CONFIG };
  };
  t.equal(tableKey('k8psh.conf', '/w/./x'), '/w/./x/k8psh.conf', 'relative: getcwd() + "/", no normalising');
  t.equal(tableKey('/etc/k.conf', '/w'), '/etc/k.conf');
  t.equal(tableKey('k.conf', '/'), '//k.conf', 'as C would concatenate it');

  const target = path.join(dir, 'cache', tableFileName('b1d', file));
  const loaded = await load({ K8PSH_CONFIG: file });
  refreshStubTable(target, loaded);
  const decoded = decodeStubTable(readFileSync(target));
  t.equal(decoded.buildId, 'b1d', 'the build id comes from the file name');
  t.equal(decoded.key, file);
  t.same(decoded.content, readFileSync(file));
  t.equal((await import('node:fs')).statSync(target).mode & 0o777, 0o600);

  t.match(tableFor(path.join(dir, 'cache', 'other'), loaded), /not named/);
  t.match(tableFor(path.join(dir, 'cache', tableFileName('b1d', '/elsewhere')), loaded), /does not hash/);
  const enumerated = await load({});
  void Object.keys(enumerated.recording.env);
  t.match(tableFor(target, enumerated), /enumerated/);
  t.match(tableFor(target, { ...loaded, k8pshConfig: '' }), /empty/);

  // No table when refused, and a refusal never throws; a missing directory leaves nothing either.
  const refused = path.join(dir, 'cache', tableFileName('b2', file));
  refreshStubTable(refused, enumerated);
  t.notOk(existsSync(refused));
  refreshStubTable(path.join(dir, 'missing', tableFileName('b1d', file)), loaded);
  t.same(readdirSync(path.join(dir, 'cache')), [path.basename(target)]);

  // Over the content cap: no table, nothing left.
  const big = path.join(dir, 'big');
  mkdirSync(big);
  writeFileSync(file, `[h:7]\nc\n${'#'.repeat(1024 * 1024)}\n`);
  const bigTarget = path.join(big, tableFileName('b1d', file));
  refreshStubTable(bigTarget, await load({}));
  t.same(readdirSync(big), []);
});

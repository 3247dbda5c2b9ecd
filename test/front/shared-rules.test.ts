/**
 * What C and TypeScript must agree on has one source (docs/protocol.md, "One source"):
 * - native/front/shared.h is what scripts/shared-header.mjs generates from the TypeScript now;
 * - the rules that are code in both languages give the same answers: the stub's switches
 *   (native/front/switches.c, src/switches.ts), which names are stubs (native/front/stub.c,
 *   src/face.ts), the cache candidates (native/front/cache.c, src/native/cache.ts) and the
 *   working-directory mapping (native/front/workdir.c, src/client/workdir.ts), through the harness
 *   native/test/rules-harness.c built with AddressSanitizer and UBSan.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { relativeWorkingDirectory } from '../../src/client/workdir.js';
import { chooseFace, invokedName } from '../../src/face.js';
import { cacheRoot } from '../../src/native/cache.js';
import { CACHE_CANDIDATES, OWN_NAMES, SCRIPT_SUFFIXES } from '../../src/shared-rules.js';
import { debugSwitch, directStdioSwitch, nativeSwitch, stdinSwitch, ttySwitch } from '../../src/switches.js';
import { SHARED_HEADER, sharedHeader } from '../../scripts/shared-header.mjs';
import { compileSanitized } from '../lib/sanitized.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const work = fs.realpathSync(fs.mkdtempSync('/tmp/k8psh-shared-rules-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

const harness = path.join(work, 'rules-harness');
const sources = [
  path.join(root, 'native/test/rules-harness.c'),
  ...fs
    .readdirSync(path.join(root, 'native/front'))
    .filter((f) => f.endsWith('.c') && f !== 'front.c')
    .map((f) => path.join(root, 'native/front', f)),
];
const compiled = compileSanitized(harness, sources);

/** One harness run: each request a line of tab-separated fields, one answer line each. */
function ask(lines: string[][], env: NodeJS.ProcessEnv = {}): string[] {
  const result = spawnSync(harness, [], {
    input: lines.map((fields) => `${fields.join('\t')}\n`).join(''),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      ASAN_OPTIONS: 'detect_leaks=1:exitcode=86',
      UBSAN_OPTIONS: 'halt_on_error=1',
      ...env,
    },
  });
  if (result.status !== 0) throw new Error(`harness: status ${result.status}: ${result.stderr}`);
  return result.stdout.split('\n').slice(0, lines.length);
}

t.test('native/front/shared.h is what the TypeScript generates now', async (t) => {
  t.equal(fs.readFileSync(SHARED_HEADER, 'utf8'), await sharedHeader(), 'run node scripts/shared-header.mjs');
});

t.test('the rules harness compiles', async (t) => {
  t.equal(compiled.status, 0, compiled.stderr);
});

t.test('switches: the same meaning for every value in C and TypeScript', async (t) => {
  const values = [
    undefined,
    '',
    '0',
    '1',
    'true',
    'false',
    'null',
    'yes',
    ' 1',
    '1 ',
    '2',
    'TRUE',
    'NULL',
    'null ',
  ];
  const answers = ask(values.map((value) => ['switches', value ?? '-']));
  values.forEach((value, i) => {
    const native = { auto: 0, only: 1, never: 2 }[nativeSwitch(value)];
    const tty = { true: 1, false: 0, undefined: -1 }[
      String(ttySwitch(value)) as 'true' | 'false' | 'undefined'
    ];
    const stdin = { inherit: 0, null: 1, invalid: 2 }[stdinSwitch(value)];
    const expected = `${native} ${tty} ${Number(directStdioSwitch(value))} ${stdin} ${Number(debugSwitch(value))}`;
    t.equal(answers[i], expected, `value ${JSON.stringify(value)}`);
  });
});

t.test('stub names: the native stub serves exactly the names TypeScript runs as a stub', async (t) => {
  const names = [...OWN_NAMES, ...SCRIPT_SUFFIXES.map((s) => `gcc${s}`), ...SCRIPT_SUFFIXES];
  names.push('gcc', 'make', 'k8psh.js', 'main.cjs', 'a.tsx', 'k8pshd2', 'Main', 'x.js.c');
  const answers = ask(names.map((name) => ['stub-name', name]));
  names.forEach((name, i) => {
    // A script name runs under node (the face of the name without its suffix): never the native stub.
    const stub = invokedName(['node', name]) === name && chooseFace(name, []).kind === 'stub';
    t.equal(answers[i], stub ? '1' : '0', name);
  });
});

t.test('cache candidates: the same directories, in the same order', async (t) => {
  const uid = process.geteuid!();
  const cases: NodeJS.ProcessEnv[] = [
    { K8PSH_CACHE_DIR: `${work}/c`, XDG_CACHE_HOME: `${work}/x`, HOME: `${work}/h`, TMPDIR: `${work}/t` },
    { XDG_CACHE_HOME: `${work}/x/`, HOME: `${work}/h` },
    { K8PSH_CACHE_DIR: 'relative', XDG_CACHE_HOME: '', HOME: `${work}/h` },
    { K8PSH_CACHE_DIR: '', HOME: 'h', TMPDIR: 'tmp' },
    {},
  ];
  for (const env of cases) {
    const answers = ask(
      CACHE_CANDIDATES.map((_, i) => ['cache', String(i)]).concat([
        ['cache', String(CACHE_CANDIDATES.length)],
      ]),
      env,
    );
    const expected = CACHE_CANDIDATES.map(({ variable, suffix, perUser }) => {
      const value = variable === null ? '' : env[variable];
      if (value === undefined || (variable !== null && !path.isAbsolute(value))) return 'unset';
      return path.normalize(`${value}${suffix}${perUser ? `-${uid}` : ''}`);
    });
    t.same(
      answers.map((a) => (a === 'unset' || a === 'end' ? a : path.normalize(a))),
      [...expected, 'end'],
      JSON.stringify(env),
    );
    // The runtime's addon cache takes the first candidate the user named.
    const named = CACHE_CANDIDATES.findIndex((c, i) => c.named && expected[i] !== 'unset');
    t.equal(cacheRoot(env), named < 0 ? undefined : expected[named], `cacheRoot ${JSON.stringify(env)}`);
  }
});

t.test('working directory: the same relative path, or outside, in C and TypeScript', async (t) => {
  const base = path.join(work, 'base');
  fs.mkdirSync(path.join(base, 'sub/dir'), { recursive: true });
  fs.mkdirSync(path.join(work, 'base2'));
  fs.symlinkSync(base, path.join(work, 'link'));
  const cases: [cwd: string, base: string][] = [
    [base, base],
    [path.join(base, 'sub/dir'), base],
    [path.join(base, 'sub'), path.join(work, 'link')],
    [path.join(base, 'sub'), `${base}/`],
    [path.join(work, 'base2'), base],
    [work, base],
    ['/etc', '/'],
    ['/', '/'],
    [path.join(base, 'sub'), path.join(work, 'missing')],
  ];
  const answers = ask(cases.map(([cwd, b]) => ['workdir', cwd, b]));
  cases.forEach(([cwd, b], i) => {
    let expected: string;
    try {
      expected = relativeWorkingDirectory(b, cwd);
    } catch {
      expected = 'outside';
    }
    t.equal(answers[i], expected, `${cwd} in ${b}`);
  });
});

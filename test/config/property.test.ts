import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import toml from 'toml';
import { convertConfToToml } from '../../src/config/convert.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConf } from '../../src/config/parse.js';
import { quoteConfString, quoteTomlString } from '../../src/config/quote.js';
import { type Segment, pushLit, scanRefs } from '../../src/config/substitute.js';
import { parseToml } from '../../src/config/toml.js';
import { encodeTomlText } from '../../src/config/words.js';
import { fixturesDir, plain, repoRoot } from './fixtures/helpers.js';

// 10,600 generated cases in all, in a few seconds.

/** Fragments that exercise every special character of the syntax. */
const SPECIAL = [
  '${A}',
  '${B:-d}',
  '${',
  '$',
  '{',
  '}',
  ':-',
  "'",
  "''",
  '"',
  '""',
  '\\',
  '#',
  ' ',
  '\t',
  '\n',
  '\r',
  '=',
  '?',
  '[',
  ']',
  ':',
  'x',
  '--',
  '\0',
  'é',
  '\ud800',
];
const tricky = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.array(fc.constantFrom(...SPECIAL), { maxLength: 10 }).map((a) => a.join('')),
);
const env = fc.dictionary(
  fc.constantFrom('A', 'B', 'HOME', 'WORKSPACE', 'P', 'T'),
  fc.constantFrom('', 'v', 'a=b', 'x:1', '/abs', '12', '${A}', 'a b'),
  {
    maxKeys: 4,
  },
);

/** Runs fn; returns 'error' for a ConfigError, rethrows anything else. */
function attempt<T>(fn: () => T): T | 'error' {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) return 'error';
    throw error;
  }
}

t.test('quoteConfString: any string reads back unchanged, never substituted', async (t) => {
  fc.assert(
    fc.property(tricky, (s) => {
      const config = parseConf(`[h]\nc x ${quoteConfString(s)}`, 'q.conf', {
        env: { A: 'SUBSTITUTED', B: 'S' },
      });
      return JSON.stringify(config.commands.get('c')?.argv) === JSON.stringify(['x', s]);
    }),
    { numRuns: 1000 },
  );
  t.equal(quoteConfString('plain/path-1.2'), 'plain/path-1.2', 'plain text stays bare');
  t.equal(quoteConfString(''), "''");
  t.equal(quoteConfString("it's ${A}"), "'it''s ${A}'");
});

/** No lone surrogate (encodeURIComponent refuses them). */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

t.test('quoteTomlString: any well-formed string reads back unchanged', async (t) => {
  fc.assert(
    fc.property(
      tricky.filter(wellFormed),
      (s) => (toml.parse(`k = ${quoteTomlString(s)}`) as { k: string }).k === s,
    ),
    { numRuns: 1000 },
  );
  t.throws(() => quoteTomlString('a\ud800'), RangeError);
  t.throws(() => quoteTomlString('\udc00b'), RangeError);
  t.equal(quoteTomlString('𝄞"\\\x7f'), '"𝄞\\"\\\\\\u007f"');
});

t.test('TOML text encoding of words round-trips', async (t) => {
  const name = fc
    .array(fc.constantFrom('A', 'b', '_', '.', '-', '(', ')', ' ', '9'), { maxLength: 4 })
    .map((a) => a.join(''));
  const segment: fc.Arbitrary<Segment> = fc.oneof(
    tricky,
    fc.record({
      name,
      def: fc.option(
        tricky.map((s) => s.replaceAll('}', '')),
        { nil: undefined },
      ),
    }),
  );
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), (raw) => {
      const segs: Segment[] = [];
      for (const seg of raw) {
        if (typeof seg === 'string') pushLit(segs, seg);
        else segs.push(seg);
      }
      return JSON.stringify(scanRefs(encodeTomlText(segs), true)) === JSON.stringify(segs);
    }),
    { numRuns: 1000 },
  );
  t.pass('round-trips');
});

/** A double-quoted conf piece holding s (escapes for what needs one). */
function doubleQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch < ' ') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const UNQUOTED = [
  'a',
  'gcc',
  '-x',
  '/usr/bin',
  '${A}',
  '${B:-d}',
  '${P:-2000}',
  'x=y',
  '=',
  '?',
  '--opt',
  '$',
  ':',
  '.',
  '..',
  '$$',
  '${',
  '1',
];
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...UNQUOTED) },
  { weight: 1, arbitrary: tricky.map((s) => `'${s.replaceAll("'", "''")}'`) },
  { weight: 1, arbitrary: tricky.map(doubleQuoted) },
);
const word = fc.array(piece, { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
const words = fc.array(word, { maxLength: 4 }).map((a) => a.join(' '));
const line = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(word, words).map(([n, w]) => `${n} ${w}`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(word, fc.option(fc.constantFrom('1', '2100', '${P}', '${P:-7}', 'x')), words)
      .map(([n, p, w]) => `[ ${n}${p === null ? '' : `:${p}`} ] ${w}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('# comment', '', '[ h ]', '[ g:3000 ] =PATH=') },
);
const confText = fc
  .tuple(
    fc.option(
      fc.constantFrom(
        'baseDirectory = ${WORKSPACE:-.}',
        'baseDirectory = "/a b"/c',
        "baseDirectory = '${A}'",
      ),
    ),
    fc.option(
      fc.constantFrom('connectTimeoutMs = -1', 'connectTimeoutMs = ${T:-5}', 'connectTimeoutMs = 007'),
    ),
    fc.array(line, { maxLength: 8 }),
  )
  .map(([b, c, lines]) => [b ?? '', c ?? '', '[ first ]', ...lines].join('\n'));

// Text read from a file has no lone surrogate; TOML cannot hold one (see toml.test.ts).
t.test('converted TOML loads to the same model as the conf, in any environment', async (t) => {
  let converted = 0;
  fc.assert(
    fc.property(confText.filter(wellFormed), env, env, (text, env1, env2) => {
      const toml = attempt(() => convertConfToToml(text, '/c/k8psh.conf', { env: env1 }));
      if (toml === 'error') return attempt(() => parseConf(text, '/c/k8psh.conf', { env: env1 })) === 'error';
      converted++;
      for (const e of [env1, env2]) {
        const want = attempt(() => parseConf(text, '/c/k8psh.conf', { env: e }));
        const got = attempt(() => parseToml(toml, '/c/k8psh.toml', { env: e }));
        if (want === 'error' || got === 'error') {
          if (want !== got) return false;
        } else if (JSON.stringify(plain(want)) !== JSON.stringify(plain(got))) return false;
      }
      return true;
    }),
    { numRuns: 600 },
  );
  t.ok(converted > 200, `${converted} of 600 generated configurations converted`);
});

t.test('arbitrary text never throws anything but ConfigError', async (t) => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc
      .array(
        fc.constantFrom(
          ...SPECIAL,
          '[',
          '[a]',
          'baseDirectory',
          'connectTimeoutMs',
          '\n[h]\n',
          '\\x4',
          '\\xZZ',
          '\\k',
        ),
        { maxLength: 30 },
      )
      .map((a) => a.join('')),
  );
  fc.assert(
    fc.property(text, env, (s, e) => {
      attempt(() => parseConf(s, 'r.conf', { env: e, warn: () => undefined }));
      attempt(() => convertConfToToml(s, 'r.conf', { env: e }));
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(text, env, (s, e) => {
      attempt(() => parseToml(s, 'r.toml', { env: e }));
      attempt(() =>
        parseToml(`[[servers]]\nname = ${JSON.stringify(s)}\ncommands = [{name = "c"}]`, 'r.toml', {
          env: e,
        }),
      );
    }),
    { numRuns: 1000 },
  );
  t.pass('only ConfigErrors');
});

t.test('random mutations of valid configurations never throw anything but ConfigError', async (t) => {
  const sources = [
    path.join(repoRoot, 'config/k8psh.conf'),
    path.join(repoRoot, 'config/k8psh.toml'),
    path.join(fixturesDir, 'quoting.conf'),
    path.join(fixturesDir, 'tricky.conf'),
  ].map((file) => readFileSync(file, 'utf8'));
  const edit = fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(...SPECIAL, '', '[[servers]]', '\n'));
  fc.assert(
    fc.property(
      fc.nat({ max: sources.length - 1 }),
      fc.array(edit, { minLength: 1, maxLength: 5 }),
      env,
      (which, edits, e) => {
        let s = sources[which] as string;
        for (const [at, del, insert] of edits) {
          const i = at % (s.length + 1);
          s = s.slice(0, i) + insert + s.slice(i + del);
        }
        const opts = { env: e, warn: () => undefined };
        if (which === 1) attempt(() => parseToml(s, 'm.toml', opts));
        else {
          attempt(() => parseConf(s, 'm.conf', opts));
          attempt(() => convertConfToToml(s, 'm.conf', opts));
        }
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('only ConfigErrors');
});

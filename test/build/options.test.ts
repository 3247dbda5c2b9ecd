/**
 * The build's command line (scripts/build/options.mjs): a mistake is `build: <what>` and the usage
 * line on stderr, exit 2, and nothing is built. Each case runs the real scripts/build.mjs with an
 * --out of its own, which must stay empty.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = t.testdir();
const USAGE = /^usage: node scripts\/build\.mjs \[--arch amd64\|arm64\] .*\[--quiet\|--verbose\]$/;

function build(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = fs.mkdtempSync(path.join(scratch, 'out-'));
  const result = spawnSync(process.execPath, ['scripts/build.mjs', '--out', out, ...args], {
    cwd: root,
    env: { ...process.env, K8PSH_ARCH: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...result, written: fs.readdirSync(out) };
}

for (const [args, message] of [
  [['--bogus'], 'unknown argument --bogus'],
  [['--bundle-only', 'stray'], 'unknown argument stray'],
  [['--bundle-only', '--', '--quiet'], 'unknown argument --'],
  [['--arch=s390x'], 'unknown architecture s390x (one of amd64, arm64)'],
  [['--entry'], '--entry needs a value'],
  [['--name='], '--name needs a value'],
  [['--name', 'k8pshd'], '--name must be a plain file name, not k8pshd'],
  // A value given to a switch was once ignored, and the build ran.
  [['--quiet=yes', '--bundle-only'], '--quiet takes no value'],
  // --no-strip is an option of its own: parseArgs' allowNegative would also take a --strip.
  [['--strip'], 'unknown argument --strip'],
] as const) {
  t.test(`${args.join(' ')}: ${message}`, async (t) => {
    const r = build([...args]);
    t.equal(r.status, 2, 'exit 2');
    const lines = r.stderr.split('\n');
    t.equal(lines[0], `build: ${message}`);
    t.match(lines[1], USAGE, 'then the usage line');
    t.same(lines.slice(2), [''], 'nothing else: no stack trace');
    t.equal(r.stdout, '');
    t.same(r.written, [], 'nothing built');
  });
}

t.test('--help and -h: the usage line alone, exit 2', async (t) => {
  for (const flag of ['--help', '-h']) {
    const r = build([flag]);
    t.equal(r.status, 2, flag);
    t.match(r.stderr, new RegExp(`^${USAGE.source.slice(1, -1)}\\n$`), flag);
    t.same(r.written, [], flag);
  }
});

t.test('$K8PSH_ARCH is the default of --arch, and --arch wins', async (t) => {
  const bad = build(['--bundle-only'], { K8PSH_ARCH: 'mips' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^build: unknown architecture mips \(one of amd64, arm64\)\n/);
  const overridden = build(['--arch', 'bogus'], { K8PSH_ARCH: 'arm64' });
  t.match(overridden.stderr, /^build: unknown architecture bogus /);
});

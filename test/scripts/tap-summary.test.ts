/**
 * `npm test` ends with the names of the failing tests (scripts/test.mjs): the parser on TAP text,
 * then the wrapper around a real tap run of fixtures that fail on purpose (test/fixtures/tap).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tapFailures } from '../../scripts/lib/tap-failures.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('tapFailures: the deepest failures, with their path', async (t) => {
  const text = [
    'TAP version 14',
    '# Subtest: a.test.ts',
    '    # Subtest: outer',
    '        # Subtest: inner',
    '            not ok 1 - deep',
    '              ---',
    '              diff: |',
    '                not ok 9 - a line of output that only looks like TAP',
    '              ...',
    '            ok 2 - fine',
    '            1..2',
    '        not ok 1 - inner # time=2ms',
    '        not ok 2 - beside inner',
    '        ok 3 - skipped one # SKIP no reason',
    '        not ok 4 - to do # TODO later',
    '        1..4',
    '    not ok 1 - outer',
    '    # Subtest: after',
    '        ok 1 - good',
    '        1..1',
    '    ok 2 - after',
    '    1..2',
    'not ok 1 - a.test.ts # time=5ms',
    '  ---',
    '  exitCode: 1',
    '  ...',
    '# Subtest: b.test.ts',
    '    ok 1 - before the crash',
    '    1..1',
    'not ok 2 - b.test.ts',
    '  ---',
    '  exitCode: 3',
    '  signal: null',
    '  ...',
    'ok 3 - c.test.ts',
    'not ok 4 - timeout!',
    '  ---',
    '  expired: d.test.ts',
    '  ...',
    '1..4',
    '# { total: 6, pass: 2, fail: 4 }',
  ].join('\n');
  t.strictSame(tapFailures(text), [
    'a.test.ts > outer > inner > deep',
    'a.test.ts > outer > beside inner',
    'b.test.ts (exitCode: 3)',
    'timeout! (expired: d.test.ts)',
  ]);
  t.strictSame(tapFailures('TAP version 14\nok 1 - x\n1..1\n'), [], 'nothing failed');
});

/** As from a shell: without the variables of the tap run this test is part of. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(TAP|_TAPJS)|^NODE_OPTIONS$/.test(key)),
);

function wrapper(files: string[]) {
  return spawnSync(process.execPath, ['scripts/test.mjs', ...files.map((f) => `test/fixtures/tap/${f}`)], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

t.test('the wrapper lists the failures after tap closing line and keeps its status', async (t) => {
  const r = wrapper(['failing.fixture.ts', 'crashing.fixture.ts', 'passing.fixture.ts']);
  t.equal(r.status, 1, "tap's exit status");
  t.match(r.stdout, /^# \{ total: 9, pass: 5, fail: 3, todo: 1 \}$/m, "tap's closing line is there");
  const list = [
    '# 3 failed (details above):',
    '#   test/fixtures/tap/crashing.fixture.ts (exitCode: 3)',
    '#   test/fixtures/tap/failing.fixture.ts > outer > inner > one is two',
    '#   test/fixtures/tap/failing.fixture.ts > a top-level assertion',
  ];
  t.equal(r.stdout.slice(r.stdout.lastIndexOf('\n# 3 failed')), `\n${list.join('\n')}\n`, 'the list ends it');
  t.ok(r.stdout.indexOf('# { total') < r.stdout.lastIndexOf('# 3 failed'), "after tap's closing line");
  t.match(r.stdout, /not ok 1 - one is two/, "tap's own output is passed through");
});

t.test('a passing run: status 0 and nothing added', async (t) => {
  const r = wrapper(['passing.fixture.ts']);
  t.equal(r.status, 0, 'exit status 0', { stdout: r.stdout });
  t.match(r.stdout, /# \{ total: 1, pass: 1 \}\n# time=[\d.]+ms\n$/, "tap's closing lines end it");
  t.notMatch(r.stdout, /failed/);
});

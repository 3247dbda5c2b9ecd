/**
 * The measuring tools in C (docs/benchmarks.md, docs/native-stubs.md) build to the project's
 * standard and run: a tool that no longer compiles would only be found the day someone needs its
 * figure.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tools = [
  ...fs
    .readdirSync(path.join(root, 'scripts'))
    .filter((name) => name.endsWith('.c'))
    .map((name) => `scripts/${name}`),
  'native/test/run-times.c',
];
const work = fs.mkdtempSync('/tmp/k8psh-c-tools-');
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

t.ok(tools.includes('scripts/floor-server.c'), `tools: ${tools.join(', ')}`);

for (const tool of tools)
  t.test(`${tool}: gcc -Wall -Wextra -Werror`, async (t) => {
    const output = path.join(work, path.basename(tool, '.c'));
    const built = spawnSync(
      'gcc',
      ['-O2', '-Wall', '-Wextra', '-Werror', '-o', output, path.join(root, tool)],
      {
        encoding: 'utf8',
      },
    );
    t.equal(built.status, 0, built.stderr);
  });

t.test('run-times: one program, or two in turn with the ratio; failures and bad usage', async (t) => {
  const runTimes = path.join(work, 'run-times');
  const line = (program: string, failures: number) =>
    new RegExp(
      `^${program}: median [0-9.]+ ms \\(p10 [0-9.]+, p90 [0-9.]+\\), peak RSS \\d+ KiB, failures ${failures}$`,
      'm',
    );
  const one = spawnSync(runTimes, ['5', '/bin/true'], { encoding: 'utf8' });
  t.equal(one.status, 0, one.stderr);
  t.match(one.stdout, line('/bin/true', 0));
  t.notMatch(one.stdout, /ratio/);
  const two = spawnSync(runTimes, ['5', '/bin/true', '--', '/bin/sh', '-c', 'exit 0'], { encoding: 'utf8' });
  t.equal(two.status, 0, two.stderr);
  t.match(two.stdout, line('/bin/true', 0));
  t.match(two.stdout, line('/bin/sh', 0));
  t.match(two.stdout, /^ratio [0-9.]+$/m);
  const failing = spawnSync(runTimes, ['3', '/bin/false', '--', '/bin/true'], { encoding: 'utf8' });
  t.equal(failing.status, 1, 'a failing run fails the whole');
  t.match(failing.stdout, line('/bin/false', 3));
  t.equal(spawnSync(runTimes, ['5'], { encoding: 'utf8' }).status, 2);
  t.equal(spawnSync(runTimes, ['5', '/bin/true', '--'], { encoding: 'utf8' }).status, 2);
});

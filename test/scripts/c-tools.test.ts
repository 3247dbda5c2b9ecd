/**
 * The measuring tools in C under scripts/ (docs/benchmarks.md) build to the project's standard and
 * run: a tool that no longer compiles would only be found the day someone needs its figure.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tools = fs.readdirSync(path.join(root, 'scripts')).filter((name) => name.endsWith('.c'));
const work = fs.mkdtempSync('/tmp/k8psh-c-tools-');
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

t.ok(tools.includes('spawn-pair.c') && tools.includes('floor-server.c'), `tools: ${tools.join(', ')}`);

for (const tool of tools)
  t.test(`${tool}: gcc -Wall -Wextra -Werror`, async (t) => {
    const output = path.join(work, path.basename(tool, '.c'));
    const built = spawnSync(
      'gcc',
      ['-O2', '-Wall', '-Wextra', '-Werror', '-o', output, path.join(root, 'scripts', tool)],
      {
        encoding: 'utf8',
      },
    );
    t.equal(built.status, 0, built.stderr);
  });

t.test('spawn-pair times two programs and refuses bad usage', async (t) => {
  const pair = path.join(work, 'spawn-pair');
  const result = spawnSync(pair, ['5', '/bin/true', '/bin/true'], { encoding: 'utf8' });
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /^\/bin\/true [0-9.]+ ms {2}\/bin\/true [0-9.]+ ms {2}ratio [0-9.]+\n$/);
  const failing = spawnSync(pair, ['2', '/bin/false', '/bin/true'], { encoding: 'utf8' });
  t.equal(failing.status, 1);
  t.equal(failing.stderr, 'spawn-pair: /bin/false failed\n');
  t.equal(spawnSync(pair, [], { encoding: 'utf8' }).status, 2);
});

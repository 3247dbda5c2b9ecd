/**
 * The scale-out figures keep working (issue 25, docs/benchmarks.md "Scale-out"): `node
 * bench/run.mjs --smoke --only remoteScaleOut,remotePlacement` against the built dist/k8psh sets up
 * three CPU-limited tools replicas and two build nodes on a bridge, and produces both figures; where
 * network namespaces, openssl or a writable cgroup cpu controller are missing each is skipped with
 * its reason instead. No timing is asserted: the correctness ones are (every build byte-identical
 * to the local one, every session on a replica, nothing left behind).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary = process.env.K8PSH_BIN ?? join(root, 'dist/k8psh');

const SCALE_FIGURES = ['remoteScaleOut', 'remotePlacement'];

interface Figure {
  bars: { label: string; value: number; role: string }[];
  targets: { text: string; actual: string; met: boolean }[];
  sessionsPerReplica: Record<string, number[]>;
  translationUnits?: number;
}

interface Results {
  figures: Record<string, Figure>;
  skipped: Record<string, string>;
}

/** What a bench run makes outside its scratch directory: namespaces, their /etc files, cgroups. */
function leftovers(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const names = (listed.stdout ?? '').split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const dir of ['/etc/netns', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup'])
    if (existsSync(dir)) names.push(...readdirSync(dir).map((name) => `${dir}/${name}`));
  return names.filter((name) => /(^|\/)k8b-/.test(name)).sort();
}

if (!existsSync(binary)) {
  t.plan(0, `${binary} does not exist: run \`npm run build\` first`);
} else {
  t.test('--smoke --only the scale-out figures', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'k8psh-bench-scale-smoke-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const before = leftovers();
    const result = spawnSync(
      process.execPath,
      [join(root, 'bench/run.mjs'), '--only', SCALE_FIGURES.join(',')],
      {
        env: { ...process.env, BENCH_SMOKE: '1', BENCH_OUT: out, K8PSH_BIN: binary, K8PSH_REFERENCE: '' },
        encoding: 'utf8',
        timeout: 90_000,
      },
    );
    if (result.status === 0) t.pass('bench/run.mjs exits 0');
    else t.fail(`bench/run.mjs exited ${result.status}`, { stdout: result.stdout, stderr: result.stderr });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    t.same(
      [...Object.keys(results.figures), ...Object.keys(results.skipped)].sort(),
      [...SCALE_FIGURES].sort(),
      'every scale-out figure is measured or skipped',
    );
    for (const [id, why] of Object.entries(results.skipped))
      t.match(why, /^no (simulated nodes|CPU quota for the replicas) here: /, `${id} says why it is skipped`);
    if (Object.keys(results.skipped).length > 0) return;
    for (const id of SCALE_FIGURES) {
      const figure = results.figures[id]!;
      t.equal(figure.bars.filter((bar) => bar.role === 'ours').length, 1, `${id}: one bar is ours`);
      t.equal(
        figure.bars.filter((bar) => bar.role === 'baseline').length,
        1,
        `${id}: the 1-replica baseline`,
      );
      for (const bar of figure.bars) t.ok(Number.isFinite(bar.value) && bar.value > 0, `${id}: ${bar.label}`);
    }
    const build = results.figures.remoteScaleOut!;
    t.equal(build.targets[0]!.met, true, 'every build identical to the local one');
    // One session a translation unit and one for the link, per build (--smoke: one round).
    for (const [label, sessions] of Object.entries(build.sessionsPerReplica))
      t.equal(
        sessions.reduce((a, b) => a + b, 0),
        build.translationUnits! + 1,
        `${label}: every gcc was a session on a replica`,
      );
    const [, single] = Object.values(build.sessionsPerReplica);
    t.same(single!.slice(1), [0, 0], 'the 1-replica gateway reaches the first replica only');
    t.match(result.stdout, /Scale-out: make -j6/, 'the table is printed');
    t.same(leftovers(), before, 'no namespace, /etc/netns directory or cgroup left behind');
  });
}

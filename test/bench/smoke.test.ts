/**
 * The benchmark keeps working: `BENCH_SMOKE=1 node bench/run.mjs` (tiny sizes) against the built
 * dist/k8psh produces results.json and results.svg with every Pod-local figure, each with its bars,
 * baselines and targets. The remote figures, which set up simulated nodes of their own, are
 * remote-smoke.test.ts's. No timing is asserted here: timings belong to `npm run bench`
 * (docs/benchmarks.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary = process.env.K8PSH_BIN ?? join(root, 'dist/k8psh');

const FIGURES = [
  'idleRss',
  'stubLatency',
  'stubPeakRss',
  'stdoutThroughput',
  'stdinThroughput',
  'concurrentSessions',
  'concurrentStubs',
  'cProject',
  'compilerProbes',
  'slowReaderRss',
  'sequentialSessions',
];

interface Bar {
  label: string;
  value: number;
  role: string;
  ratio?: number;
}

interface Figure {
  id: string;
  title: string;
  unit: string;
  better: string;
  bars: Bar[];
  targets: { text: string; actual: string; met: boolean }[];
  ratios: Record<string, number>;
}

interface Results {
  meta: { smoke: boolean; binary: string; node: string; cpus: number; runs: number };
  figures: Record<string, Figure>;
}

if (!existsSync(binary)) {
  t.plan(0, `${binary} does not exist: run \`npm run build\` first`);
} else {
  t.test('BENCH_SMOKE=1 produces every figure in results.json and an SVG', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'k8psh-bench-smoke-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const result = spawnSync(process.execPath, [join(root, 'bench/run.mjs'), '--only', FIGURES.join(',')], {
      env: { ...process.env, BENCH_SMOKE: '1', BENCH_OUT: out, K8PSH_BIN: binary, K8PSH_REFERENCE: '' },
      encoding: 'utf8',
      timeout: 170_000,
    });
    // Its output goes into the test log only when it failed: the smoke sizes miss the real targets,
    // and a passing line must not read like a failure.
    if (result.status === 0) t.pass('bench/run.mjs exits 0');
    else t.fail(`bench/run.mjs exited ${result.status}`, { stdout: result.stdout, stderr: result.stderr });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    t.equal(results.meta.smoke, true);
    t.equal(results.meta.binary, binary);
    t.same(Object.keys(results.figures).sort(), [...FIGURES].sort(), 'every figure is there');
    for (const id of FIGURES) {
      const figure = results.figures[id]!;
      t.equal(figure.id, id);
      t.type(figure.title, 'string');
      t.type(figure.unit, 'string');
      t.ok(['lower', 'higher'].includes(figure.better), `${id}: better is lower or higher`);
      t.ok(figure.bars.length >= 2, `${id}: ours and at least one baseline`);
      t.equal(figure.bars.filter((bar) => bar.role === 'ours').length, 1, `${id}: one bar is ours`);
      for (const bar of figure.bars) t.ok(Number.isFinite(bar.value), `${id}: ${bar.label} is a number`);
      t.ok(figure.targets.length >= 1, `${id}: has targets`);
      for (const target of figure.targets) t.type(target.met, 'boolean', `${id}: ${target.text}`);
      t.type(figure.ratios, 'object');
    }
    // Correctness is asserted even in smoke mode: no wrong output, no failed session.
    t.equal(
      results.figures.concurrentSessions!.targets[0]!.met,
      true,
      'concurrent sessions: no wrong output',
    );
    t.equal(results.figures.concurrentStubs!.targets[0]!.met, true, 'concurrent stubs: no wrong output');
    // The floors answer the same stub (bench/lib/floor.mjs): each a bar and a ratio beside ours.
    const latency = results.figures.stubLatency!;
    for (const kind of ['c', 'node'] as const) {
      if (kind === 'c' && spawnSync('cc', ['--version']).status !== 0) continue;
      const label = `k8psh stub → true, ${kind === 'c' ? 'C' : 'Node'} floor server`;
      t.ok(
        latency.bars.some((bar) => bar.label === label),
        `stub latency: ${label}`,
      );
      t.ok(
        latency.ratios[`${kind} floor server, wall vs /bin/true`]! > 0,
        `stub latency: the ${kind} floor's ratio`,
      );
    }
    t.match(result.stdout, /stub latency/i, 'the table is printed');
    const svg = readFileSync(join(out, 'results.svg'), 'utf8');
    t.match(svg, /^<svg /);
    t.match(svg, /<\/svg>\s*$/);
    for (const id of FIGURES)
      t.ok(
        svg.includes(
          results.figures[id]!.title.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
        ),
        `${id} has a panel`,
      );
  });
}

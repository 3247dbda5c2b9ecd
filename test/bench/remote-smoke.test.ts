/**
 * The remote figures keep working (issue 24, docs/benchmarks.md "Remote"): `node bench/run.mjs
 * --smoke --only <the remote figures>` against the built dist/k8psh sets up two simulated nodes,
 * a server with mutual TLS, the gateway and a Pod-local k8pshd, and produces every remote figure
 * with ours beside the Pod-local baseline; where network namespaces or openssl are missing each
 * figure is skipped with its reason instead. No timing is asserted: the correctness ones are (no
 * wrong output, every stub native, every byte there, no namespace left behind).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const binary = process.env.K8PSH_BIN ?? join(root, 'dist/k8psh');

const REMOTE_FIGURES = [
  'remoteStubLatency',
  'remoteConcurrentStubs',
  'remoteStdoutThroughput',
  'remoteIdleRss',
];

interface Figure {
  id: string;
  title: string;
  unit: string;
  bars: { label: string; value: number; role: string }[];
  targets: { text: string; actual: string; met: boolean }[];
  native?: string;
  cpuMsPerGiB?: Record<string, { median: number }>;
  serverCpuMsPerCall?: Record<string, number>;
}

interface Results {
  meta: { smoke: boolean };
  figures: Record<string, Figure>;
  skipped: Record<string, string>;
}

/** This process's namespaces' prefix is k8b-<pid>-: the bench's are named after its own pid. */
function benchNamespaces(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (listed.stdout ?? '').split('\n').filter((line) => line.startsWith('k8b-'));
}

if (!existsSync(binary)) {
  t.plan(0, `${binary} does not exist: run \`npm run build\` first`);
} else {
  t.test('--smoke --only the remote figures', async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'k8psh-bench-remote-smoke-'));
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const before = benchNamespaces();
    const result = spawnSync(
      process.execPath,
      [join(root, 'bench/run.mjs'), '--only', REMOTE_FIGURES.join(',')],
      {
        env: { ...process.env, BENCH_SMOKE: '1', BENCH_OUT: out, K8PSH_BIN: binary, K8PSH_REFERENCE: '' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    if (result.status === 0) t.pass('bench/run.mjs exits 0');
    else t.fail(`bench/run.mjs exited ${result.status}`, { stdout: result.stdout, stderr: result.stderr });
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
    t.equal(results.meta.smoke, true);
    t.same(
      [...Object.keys(results.figures), ...Object.keys(results.skipped)].sort(),
      [...REMOTE_FIGURES].sort(),
      'every remote figure is measured or skipped',
    );
    for (const [id, why] of Object.entries(results.skipped)) {
      t.match(why, /^no simulated nodes here: /, `${id} says why it is skipped`);
      t.match(result.stdout, new RegExp(`${id}: skipped \\(`), `${id}: the table says it was skipped`);
    }
    if (Object.keys(results.skipped).length > 0) return;
    for (const id of REMOTE_FIGURES) {
      const figure = results.figures[id]!;
      t.equal(figure.bars.filter((bar) => bar.role === 'ours').length, 1, `${id}: one bar is ours`);
      t.ok(
        figure.bars.some((bar) => bar.role === 'baseline' && /Pod-local/.test(bar.label)),
        `${id}: the Pod-local baseline`,
      );
      for (const bar of figure.bars) t.ok(Number.isFinite(bar.value) && bar.value > 0, `${id}: ${bar.label}`);
      for (const target of figure.targets) t.type(target.met, 'boolean', `${id}: ${target.text}`);
    }
    t.match(
      results.figures.remoteStubLatency!.native,
      /^every run of both stubs exited 0 with K8PSH_NATIVE=1/,
    );
    t.ok(results.figures.remoteStubLatency!.serverCpuMsPerCall!.gateway! >= 0, 'the gateway CPU per call');
    t.equal(
      results.figures.remoteConcurrentStubs!.targets[0]!.met,
      true,
      'concurrent remote calls: no wrong output',
    );
    t.ok(
      Number.isFinite(results.figures.remoteStdoutThroughput!.cpuMsPerGiB!.gateway!.median),
      'the gateway CPU per GiB',
    );
    t.match(result.stdout, /Remote stub latency/, 'the table is printed');
    t.same(benchNamespaces(), before, 'no network namespace left behind');
  });
}

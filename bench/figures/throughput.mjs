/**
 * Throughput through a stub, both ways: stdout (a remote `head -c` into a local sink) and stdin (a
 * local `head -c` into a remote sink), beside a local pipe, relayed and (given) the original.
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { NODE, SINK, quote, run } from '../lib/process.mjs';
import { MiB, round, summary } from '../lib/stats.mjs';

/** `producer | node sink.mjs` through sh (real pipes, as in a shell); the sink reports bytes and rate. */
async function throughputRun(producer, env, cwd, bytes) {
  const start = process.hrtime.bigint();
  const result = await run('sh', ['-c', producer], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let report;
  try {
    report = JSON.parse(line);
  } catch {
    throw new Error(
      `${producer}: no report (status ${result.code}): ${result.stderr.slice(0, 500)}${line.slice(0, 200)}`,
    );
  }
  if (report.bytes !== bytes)
    throw new Error(`${producer}: ${report.bytes} bytes arrived, ${bytes} expected`);
  return { rate: report.mibPerSecond, wall };
}

async function throughput({ ours, reference, options }, direction) {
  const bytes = direction === 'stdout' ? options.sizes.stdout : options.sizes.stdin;
  const sinkCommand = `${quote(NODE)} ${quote(SINK)}`;
  const pipelines = (target) =>
    direction === 'stdout'
      ? `${quote(target.stub('head'))} -c ${bytes} /dev/zero | ${sinkCommand}`
      : `head -c ${bytes} /dev/zero | ${quote(target.stub('sink'))}`;
  const cases = [
    {
      label: direction === 'stdout' ? 'k8psh: remote head -c' : 'k8psh: into remote cat',
      role: 'ours',
      producer: pipelines(ours),
      target: ours,
    },
    ...(reference
      ? [{ label: 'original k8psh', role: 'reference', producer: pipelines(reference), target: reference }]
      : []),
    {
      // The fallback (no local socket: another network namespace, an original server, ...).
      label: 'k8psh relayed over TCP',
      role: 'info',
      producer: pipelines(ours),
      target: ours,
      env: { ...ours.env, K8PSH_DIRECT_STDIO: '0' },
    },
    {
      label: 'local pipe (head | cat)',
      role: 'baseline',
      producer: `head -c ${bytes} /dev/zero | ${sinkCommand}`,
      target: ours,
    },
  ];
  const runs = await interleave(cases, options.sizes.rounds, (c) =>
    throughputRun(c.producer, c.env ?? c.target.env, c.target.work, bytes),
  );
  const stats = cases.map((c, i) => ({
    ...c,
    s: summary(runs[i].map((r) => r.rate)),
    w: summary(runs[i].map((r) => r.wall)),
  }));
  const oursRate = stats[0].s.median;
  const local = stats.find((c) => c.role === 'baseline').s.median;
  const ratio = oursRate / local;
  const minimum = direction === 'stdout' ? 1000 : 700;
  const targets = [
    { text: `≥ ${minimum} MiB/s`, actual: `${oursRate.toFixed(0)} MiB/s`, met: oursRate >= minimum },
  ];
  if (direction === 'stdout')
    targets.push({ text: '≥ 0.7 × local pipe', actual: `${ratio.toFixed(2)}×`, met: ratio >= 0.7 });
  return {
    title:
      direction === 'stdout'
        ? `stdout throughput: ${bytes / MiB} MiB from a remote \`head -c\``
        : `stdin throughput: ${bytes / MiB} MiB into a remote cat`,
    subtitle: `median of ${options.sizes.rounds}; rate from the first byte to the end`,
    unit: 'MiB/s',
    better: 'higher',
    bytes,
    bars: medianBars(stats, (c) => c.s),
    rate: Object.fromEntries(stats.map((c) => [c.label, c.s])),
    wallSeconds: Object.fromEntries(stats.map((c) => [c.label, c.w])),
    ratios: {
      'vs local pipe': round(ratio, 3),
      'relayed vs local pipe': round(stats.find((c) => c.role === 'info').s.median / local, 3),
      ...(reference ? { 'vs original': round(oursRate / stats[1].s.median, 2) } : {}),
    },
    targets,
    note:
      direction === 'stdout'
        ? "ours: the remote head writes into the stub's own pipe; relayed: K8PSH_DIRECT_STDIO=0"
        : "ours: the remote sink reads the stub's own pipe; relayed: K8PSH_DIRECT_STDIO=0",
  };
}

export const stdoutThroughput = (ctx) => throughput(ctx, 'stdout');
export const stdinThroughput = (ctx) => throughput(ctx, 'stdin');

/** Stub latency: a stub running `true` remotely, beside /bin/true, `node -e 0` and the original. */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { NODE, cpuTime, perf, wallTime } from '../lib/process.mjs';
import { round, summary } from '../lib/stats.mjs';

export async function stubLatency({ ours, reference, options }) {
  const cases = [
    {
      label: 'k8psh stub → true',
      role: 'ours',
      file: ours.stub('true'),
      args: [],
      env: ours.env,
      cwd: ours.work,
    },
    ...(reference
      ? [
          {
            label: 'original k8psh stub',
            role: 'reference',
            file: reference.stub('true'),
            args: [],
            env: reference.env,
            cwd: reference.work,
          },
        ]
      : []),
    {
      label: 'k8psh stub, relayed',
      role: 'info',
      file: ours.stub('true'),
      args: [],
      env: { ...ours.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: ours.work,
    },
    { label: '/bin/true', role: 'baseline', file: '/bin/true', args: [], env: ours.env, cwd: ours.work },
    { label: 'node -e 0', role: 'baseline', file: NODE, args: ['-e', '0'], env: ours.env, cwd: ours.work },
  ];
  // Wall time, after one warm-up round.
  const wall = await interleave(
    cases,
    options.runs,
    (c) => {
      const result = wallTime(c);
      if (!result.ok) throw new Error(`${c.label} failed with status ${result.status}`);
      return result.wall;
    },
    { warmUp: 1 },
  );
  // CPU time (user + system of the process itself): far less sensitive to the other load of the machine.
  const cpu = perf.works
    ? await interleave(cases, Math.max(3, Math.ceil(options.runs / 2)), cpuTime, {
        keepGoing: () => perf.works,
      })
    : cases.map(() => []);
  const stats = cases.map((c, i) => ({
    ...c,
    wallStats: summary(wall[i]),
    cpuStats: cpu[i].length && perf.works ? summary(cpu[i]) : null,
  }));
  const [oursStats] = stats;
  const node = stats.find((c) => c.label === 'node -e 0');
  const ratio = oursStats.wallStats.median / node.wallStats.median;
  const cpuRatio =
    oursStats.cpuStats && node.cpuStats ? oursStats.cpuStats.median / node.cpuStats.median : null;
  const figure = {
    title: 'Stub latency: a stub running `true` remotely',
    subtitle: `median wall time of ${options.runs} interleaved runs`,
    unit: 'ms',
    better: 'lower',
    bars: medianBars(
      stats,
      (c) => c.wallStats,
      (c) => (c.cpuStats ? { note: `cpu ${c.cpuStats.median} ms` } : {}),
    ),
    wall: Object.fromEntries(stats.map((c) => [c.label, c.wallStats])),
    cpu: Object.fromEntries(stats.filter((c) => c.cpuStats).map((c) => [c.label, c.cpuStats])),
    ratios: {
      'wall vs node -e 0': round(ratio, 3),
      ...(cpuRatio ? { 'cpu vs node -e 0': round(cpuRatio, 3) } : {}),
      'wall vs /bin/true': round(
        oursStats.wallStats.median / stats.find((c) => c.label === '/bin/true').wallStats.median,
        2,
      ),
      ...(reference
        ? { 'wall vs original': round(oursStats.wallStats.median / stats[1].wallStats.median, 2) }
        : {}),
    },
    targets: [
      { text: '≤ 1.10 × node -e 0 (wall median)', actual: `${ratio.toFixed(3)}×`, met: ratio <= 1.1 },
    ],
  };
  if (cpuRatio)
    figure.note = `CPU time (perf stat task-clock, median of ${stats[0].cpuStats.runs}): ours ${cpuRatio.toFixed(3)} × node -e 0`;
  return figure;
}

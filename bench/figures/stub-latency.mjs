/**
 * Stub latency: a stub running `true` remotely, beside /bin/true started the same way (the goal's
 * baseline), `node -e 0` (the floor of the TypeScript client) and the original. The stub forced
 * through the TypeScript client (K8PSH_NATIVE=0) and relayed (K8PSH_DIRECT_STDIO=0) are shown too,
 * and the same stub answered by the floor servers (../lib/floor.mjs): the least a server costs, in C
 * and in Node.
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { spawnSync } from 'node:child_process';
import { cpuTime, perf, wallTime } from '../lib/process.mjs';
import { round, summary } from '../lib/stats.mjs';
import { startFloor } from '../lib/floor.mjs';
import { trueCases } from '../lib/true-cases.mjs';

export async function stubLatency({ ours, reference, options }) {
  const floors = [];
  try {
    for (const kind of ['c', 'node'])
      floors.push({ kind, ...(await startFloor(kind, ours, options.scratch)) });
    return await measure({ ours, reference, options }, floors);
  } finally {
    for (const floor of floors) floor.stop?.();
  }
}

const FLOOR_LABELS = { c: 'k8psh stub → true, C floor server', node: 'k8psh stub → true, Node floor server' };

async function measure({ ours, reference, options }, floors) {
  const cases = trueCases({ ours, reference }, { relayed: true });
  for (const floor of floors)
    if (floor.env) cases.push({ ...cases[0], label: FLOOR_LABELS[floor.kind], role: 'info', env: floor.env });
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
  const binTrue = stats.find((c) => c.label === '/bin/true');
  const typescript = stats.find((c) => c.label === 'k8psh stub, TypeScript client');
  const floorRatios = floors
    .map((floor) => [floor, stats.find((c) => c.label === FLOOR_LABELS[floor.kind])])
    .filter(([, c]) => c)
    .map(([floor, c]) => [floor.kind, round(c.wallStats.median / binTrue.wallStats.median, 3)]);
  const ratio = oursStats.wallStats.median / binTrue.wallStats.median;
  const tsRatio = typescript.wallStats.median / node.wallStats.median;
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
      'wall vs /bin/true': round(ratio, 3),
      'wall vs node -e 0': round(oursStats.wallStats.median / node.wallStats.median, 3),
      ...(cpuRatio ? { 'cpu vs node -e 0': round(cpuRatio, 3) } : {}),
      'TypeScript client, wall vs node -e 0': round(tsRatio, 3),
      ...(reference
        ? { 'wall vs original': round(oursStats.wallStats.median / stats[1].wallStats.median, 2) }
        : {}),
      ...Object.fromEntries(
        floorRatios.map(([kind, ratio]) => [`${kind} floor server, wall vs /bin/true`, ratio]),
      ),
    },
    native: nativeCheck(cases[0]),
    targets: [
      { text: '≤ 1.40 × /bin/true (wall median)', actual: `${ratio.toFixed(3)}×`, met: ratio <= 1.4 },
      {
        text: 'TypeScript client ≤ 1.10 × node -e 0',
        actual: `${tsRatio.toFixed(3)}×`,
        met: tsRatio <= 1.1,
      },
    ],
  };
  const notes = [];
  if (cpuRatio)
    notes.push(
      `CPU time (perf stat task-clock, median of ${stats[0].cpuStats.runs}): ours ${cpuRatio.toFixed(3)} × node -e 0`,
    );
  for (const [kind, ratio] of floorRatios)
    notes.push(`answered by the ${kind} floor server: ${ratio.toFixed(3)} × /bin/true`);
  for (const floor of floors) if (floor.missing) notes.push(`no ${floor.kind} floor: ${floor.missing}`);
  figure.note = notes.join('; ');
  return figure;
}

/**
 * Whether the stub ran natively (docs/native-stubs.md): with K8PSH_NATIVE=1 a stub that would hand
 * over says why and exits 125. A binary without native stubs ignores the variable and exits 0.
 */
function nativeCheck(c) {
  const result = spawnSync(c.file, c.args, {
    env: { ...c.env, K8PSH_NATIVE: '1' },
    cwd: c.cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (result.status === 125) return `not native: ${result.stderr.trim()}`;
  return result.status === 0 ? 'native (or a build without native stubs)' : `exit ${result.status}`;
}

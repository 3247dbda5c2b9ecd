/** n stub processes at once, beside n Node start-ups (the floor) and (given) the original's stubs. */
import { cpus } from 'node:os';
import { concurrency, wave } from '../lib/concurrency.mjs';
import { NODE, run } from '../lib/process.mjs';
import { round } from '../lib/stats.mjs';

export async function concurrentStubs({ ours, reference, options }) {
  const n = options.sizes.stubs;
  const expected = (i) => `stub-${i}\n`;
  const processes = (file, prefixArgs, env, cwd) => () =>
    wave(
      n,
      (i) => run(file, [...prefixArgs, `stub-${i}`], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }),
      expected,
    );
  const { stats, ...shown } = await concurrency(
    [
      {
        label: `${n} k8psh stubs (echo)`,
        role: 'ours',
        go: processes(ours.stub('echo'), [], ours.env, ours.work),
      },
      ...(reference
        ? [
            {
              label: `${n} original stubs`,
              role: 'reference',
              go: processes(reference.stub('echo'), [], reference.env, reference.work),
            },
          ]
        : []),
      {
        label: `${n} × node -p (Node floor)`,
        role: 'baseline',
        go: processes(NODE, ['-p', 'process.argv[1]'], ours.env, ours.work),
      },
    ],
    options.sizes.rounds,
  );
  const seconds = stats[0].s.median / 1000;
  return {
    title: `${n} concurrent stub processes`,
    subtitle: `${n} processes started at once; wall time until all exited; every output checked`,
    unit: 'ms',
    better: 'lower',
    processes: n,
    ...shown,
    targets: [
      ...shown.targets,
      { text: 'under 1 s (median wall)', actual: `${seconds.toFixed(2)} s`, met: seconds < 1 },
    ],
    ratios: { 'vs node floor': round(stats[0].s.median / stats.at(-1).s.median, 3) },
    note: `${cpus().length} CPUs; the Node floor is what ${n} TypeScript clients at least cost`,
  };
}

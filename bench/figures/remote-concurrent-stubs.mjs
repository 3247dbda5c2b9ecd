/**
 * n remote calls at once (issue 24): n native stubs started together in the build node, each
 * running `printf %s N` on the tools node through the gateway and checking that its output is its
 * own N; wall time from the first spawn to the last exit. Beside: the same n stubs answered by the
 * Pod-local k8pshd, and n local printf processes (what starting n processes costs by itself).
 */
import { cpus } from 'node:os';
import { concurrency } from '../lib/concurrency.mjs';
import { remoteFigure, stubRun } from '../lib/remote.mjs';
import { round } from '../lib/stats.mjs';

const GOAL_MS = 1500;

export const remoteConcurrentStubs = (ctx) =>
  remoteFigure(ctx, async (remote) => {
    const n = ctx.options.sizes.stubs;
    const native = { K8PSH_NATIVE: '1' };
    const go = (how) => () => remote.driver.call({ op: 'wave', n, ...how });
    const printf = ['%s', '{i}'];
    const { stats, ...shown } = await concurrency(
      [
        {
          label: `${n} stubs → gateway → tools node`,
          role: 'ours',
          go: go(stubRun(remote, 'remote', 'printf', printf, native)),
        },
        {
          label: `${n} stubs → Pod-local k8pshd`,
          role: 'baseline',
          go: go(stubRun(remote, 'local', 'printf', printf, native)),
        },
        {
          label: `${n} × /usr/bin/printf`,
          role: 'info',
          go: go({ file: '/usr/bin/printf', args: printf, env: remote.stubEnv.local, cwd: remote.work }),
        },
      ],
      ctx.options.sizes.rounds,
    );
    const [ours, local] = stats;
    return {
      title: `${n} concurrent remote calls through the gateway`,
      subtitle: `${n} stubs started at once in the build node; wall time until all exited; every output checked`,
      unit: 'ms',
      better: 'lower',
      processes: n,
      ...shown,
      ratios: { 'vs Pod-local stubs': round(ours.s.median / local.s.median, 3) },
      targets: [
        ...shown.targets,
        {
          text: `under ${GOAL_MS / 1000} s (median wall)`,
          actual: `${(ours.s.median / 1000).toFixed(2)} s`,
          met: ours.s.median < GOAL_MS,
        },
      ],
      note: `${cpus().length} CPUs; K8PSH_NATIVE=1 (a stub that could not run natively counts as wrong)`,
    };
  });

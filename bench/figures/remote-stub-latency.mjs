/**
 * Remote stub latency (issue 24): a native stub running `true` on the tools node, through the
 * build node's gateway and one established HTTP/2-over-mTLS connection, beside the same stub
 * answered by a Pod-local k8pshd in the build node, and /bin/true started the same way. Every run
 * has K8PSH_NATIVE=1, so a stub that would hand over to the TypeScript client fails the figure
 * instead of being timed. Timed inside the build node by the driver (../lib/remote.mjs).
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { cpuMs, remoteFigure, stubRun } from '../lib/remote.mjs';
import { round, summary } from '../lib/stats.mjs';

/** The issue's goal: a call through the gateway costs at most this much over a Pod-local one. */
const BUDGET_MS = 1.5;

export const remoteStubLatency = (ctx) =>
  remoteFigure(ctx, async (remote) => {
    const native = { K8PSH_NATIVE: '1' };
    const cases = [
      {
        label: 'stub → gateway → tools node: true',
        role: 'ours',
        ...stubRun(remote, 'remote', 'true', [], native),
        servers: { gateway: remote.gateway.pid, 'tools server': remote.server.pid },
      },
      {
        label: 'stub → Pod-local k8pshd: true',
        role: 'baseline',
        ...stubRun(remote, 'local', 'true', [], native),
        servers: { 'Pod-local k8pshd': remote.local.pid },
      },
      {
        label: '/bin/true',
        role: 'info',
        file: '/bin/true',
        args: [],
        env: remote.stubEnv.local,
        cwd: remote.work,
      },
    ];
    // Five times the Pod-local figure's runs: a run costs milliseconds, and the goal is a difference.
    const runs = ctx.options.runs * 5;
    // The servers' CPU time (/proc/PID/stat, 10 ms ticks) summed over every call: a mean per call.
    const cpu = {};
    const wall = await interleave(
      cases,
      runs,
      async (c) => {
        const before = Object.entries(c.servers ?? {}).map(([name, pid]) => [name, pid, cpuMs(pid)]);
        const result = await remote.driver.call({
          op: 'time',
          file: c.file,
          args: c.args,
          env: c.env,
          cwd: c.cwd,
        });
        if (!result.ok)
          throw new Error(`${c.label} failed with status ${result.status}: ${result.stderr ?? ''}`);
        for (const [name, pid, ms] of before) {
          cpu[name] ??= { ms: 0, calls: 0 };
          cpu[name].ms += cpuMs(pid) - ms;
          cpu[name].calls++;
        }
        return result.wall;
      },
      { warmUp: 1 },
    );
    const stats = cases.map((c, i) => ({ ...c, s: summary(wall[i]) }));
    const [ours, local, binTrue] = stats;
    const over = ours.s.median - local.s.median;
    const cpuPerCall = Object.fromEntries(
      Object.entries(cpu).map(([name, { ms, calls }]) => [name, round(ms / calls, 3)]),
    );
    return {
      title: 'Remote stub latency: `true` through the gateway',
      subtitle: `median wall time of ${runs} interleaved runs in the build node; K8PSH_NATIVE=1`,
      unit: 'ms',
      better: 'lower',
      bars: medianBars(stats, (c) => c.s),
      wall: Object.fromEntries(stats.map((c) => [c.label, c.s])),
      ratios: {
        'vs Pod-local stub': round(ours.s.median / local.s.median, 3),
        'vs /bin/true': round(ours.s.median / binTrue.s.median, 3),
        'Pod-local stub vs /bin/true': round(local.s.median / binTrue.s.median, 3),
      },
      overPodLocalMs: round(over, 3),
      serverCpuMsPerCall: cpuPerCall,
      native: `every run of both stubs exited 0 with K8PSH_NATIVE=1 (${runs + 1} each)`,
      targets: [
        {
          text: `≤ Pod-local + ${BUDGET_MS} ms (wall median)`,
          actual: `+${over.toFixed(2)} ms`,
          met: over <= BUDGET_MS,
        },
      ],
      note: `server CPU per call: ${Object.entries(cpuPerCall)
        .map(([name, ms]) => `${name} ${ms.toFixed(2)} ms`)
        .join(', ')}`,
    };
  });

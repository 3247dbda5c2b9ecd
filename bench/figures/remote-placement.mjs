/**
 * The gateway's placement of a session (issue 25): a native stub running `true` through the gateway
 * of the build node that sees three tools replicas, beside the same stub in the build node that sees
 * one (../lib/remote-scale.mjs), interleaved as in remote-stub-latency.mjs; the difference of the
 * medians is what choosing a replica costs a call. The replicas run without their CPU limit here:
 * the figure is the gateway's, and a quota's 100 ms periods would be noise of their own. The
 * gateways' CPU time per call and where the sessions went are kept beside.
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { cpuMs } from '../lib/remote.mjs';
import { REPLICAS, scaleFigure, scaleRun } from '../lib/remote-scale.mjs';
import { round, summary } from '../lib/stats.mjs';

export const remotePlacement = (ctx) =>
  scaleFigure(ctx, async (scale) => {
    const stub = scaleRun(scale, 'true', [], { K8PSH_NATIVE: '1' });
    const viaGateway = (n, role) => ({
      label: `stub → gateway → ${n} replica${n > 1 ? 's' : ''}: true`,
      role,
      build: scale.builds[n],
      cpu: { ms: 0, calls: 0 },
      sessions: scale.replicas.map(() => 0),
    });
    const cases = [viaGateway(REPLICAS, 'ours'), viaGateway(1, 'baseline')];
    // As remoteStubLatency: five times the Pod-local figure's runs, the goal being a difference.
    const runs = ctx.options.runs * 5;
    scale.limitCpu(null);
    const wall = await interleave(
      cases,
      runs,
      async (c) => {
        const pid = c.build.gateway.pid;
        const before = { cpu: cpuMs(pid), sessions: scale.sessionsPerReplica() };
        const result = await c.build.driver.call({ op: 'time', ...stub });
        if (!result.ok)
          throw new Error(`${c.label} failed with status ${result.status}: ${result.stderr ?? ''}`);
        c.cpu.ms += cpuMs(pid) - before.cpu;
        c.cpu.calls++;
        scale.sessionsPerReplica().forEach((n, i) => (c.sessions[i] += n - before.sessions[i]));
        return result.wall;
      },
      { warmUp: 1 },
    );
    const stats = cases.map((c, i) => ({ ...c, s: summary(wall[i]) }));
    const [ours, one] = stats;
    const over = ours.s.median - one.s.median;
    const gatewayCpu = Object.fromEntries(cases.map((c) => [c.label, round(c.cpu.ms / c.cpu.calls, 3)]));
    return {
      title: `Placement: \`true\` through a gateway that sees ${REPLICAS} replicas vs 1`,
      subtitle: `median wall time of ${runs} interleaved runs in each build node; K8PSH_NATIVE=1; no CPU limit`,
      unit: 'ms',
      better: 'lower',
      bars: medianBars(stats, (c) => c.s),
      wall: Object.fromEntries(stats.map((c) => [c.label, c.s])),
      ratios: { [`${REPLICAS} replicas vs 1`]: round(ours.s.median / one.s.median, 3) },
      placementMs: round(over, 3),
      gatewayCpuMsPerCall: gatewayCpu,
      sessionsPerReplica: Object.fromEntries(cases.map((c) => [c.label, c.sessions])),
      targets: [],
      note:
        `${REPLICAS} replicas − 1: ${over >= 0 ? '+' : ''}${over.toFixed(2)} ms a call; gateway CPU per call ` +
        `${Object.values(gatewayCpu)
          .map((ms) => `${ms.toFixed(2)}`)
          .join(' vs ')} ms; sessions per replica ${cases.map((c) => c.sessions.join('/')).join(' vs ')}`,
    };
  });

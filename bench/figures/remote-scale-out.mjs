/**
 * Scale-out (issue 25): a generated C project (../lib/c-project.mjs) built clean with
 * `make -j6 CC=<gcc stub>` in a build node whose gateway reaches the tools Deployment by the name of
 * its headless Service (../lib/remote-scale.mjs); that name lists one replica in one build node and
 * three in the other, and every replica, with the gcc it runs, is limited to 0.6 CPU. The same
 * make with the local gcc, no stub and no limit, is shown beside (info). Interleaved rounds: 3
 * replicas, 1 replica, local. Every build's objects and program are compared byte for byte with a
 * local build made first: a difference fails the figure (and the run), as a wrong output would.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { medianBars } from '../lib/bars.mjs';
import { differingOutputs, generateCProject, projectOutputs } from '../lib/c-project.mjs';
import { interleave } from '../lib/interleave.mjs';
import { run } from '../lib/process.mjs';
import { REPLICAS, scaleFigure } from '../lib/remote-scale.mjs';
import { round, summary } from '../lib/stats.mjs';

/** A replica's CPU limit (its Pod's `resources.limits.cpu`). */
const CPU_LIMIT = 0.6;
const JOBS = 6;
/** The issue's goal: 3 replicas build at least this many times faster than 1. */
const GOAL = 2.5;

export const remoteScaleOut = (ctx) =>
  scaleFigure(ctx, async (scale) => {
    const { scaleUnits: units, scaleFunctions: functions, buildRounds: rounds } = ctx.options.sizes;
    const project = (name) => {
      const dir = join(scale.work, name);
      generateCProject(dir, units, { functions });
      return dir;
    };
    const viaReplicas = (n, role) => ({
      label: `make -j${JOBS}, gcc stub → ${n} replica${n > 1 ? 's' : ''} × ${CPU_LIMIT} CPU`,
      role,
      driver: scale.builds[n].driver,
      cc: scale.stub('gcc'),
      env: { ...scale.stubEnv, K8PSH_NATIVE: '1' },
      cwd: project(`scale-project-${n}`),
    });
    const local = (cwd) => ({
      label: `make -j${JOBS}, local gcc (no limit)`,
      role: 'info',
      driver: scale.builds[1].driver,
      cc: 'gcc',
      env: scale.stubEnv,
      cwd,
    });
    const cases = [viaReplicas(REPLICAS, 'ours'), viaReplicas(1, 'baseline'), local(project('scale-local'))];

    // Per remote case, summed over its builds: where its sessions went, how long each replica waited
    // for its next CPU period.
    const remote = cases.filter((c) => c.cc !== 'gcc');
    const sessions = Object.fromEntries(remote.map((c) => [c.label, scale.replicas.map(() => 0)]));
    const throttled = Object.fromEntries(remote.map((c) => [c.label, scale.replicas.map(() => 0)]));
    const make = async (c) => {
      const clean = await run('make', ['-s', 'clean'], { cwd: c.cwd, env: c.env });
      if (clean.code !== 0) throw new Error(`${c.label}: make clean failed: ${clean.stderr.trim()}`);
      const before = { sessions: scale.sessionsPerReplica(), throttled: scale.throttledMsPerReplica() };
      const made = await c.driver.call({
        op: 'run',
        file: 'make',
        args: ['-s', `-j${JOBS}`, `CC=${c.cc}`],
        env: c.env,
        cwd: c.cwd,
      });
      if (made.code !== 0)
        throw new Error(`${c.label}: make failed (${made.code}): ${made.stderr.trim().slice(0, 2000)}`);
      if (sessions[c.label]) {
        scale.sessionsPerReplica().forEach((n, i) => (sessions[c.label][i] += n - before.sessions[i]));
        scale.throttledMsPerReplica().forEach((ms, i) => (throttled[c.label][i] += ms - before.throttled[i]));
      }
      return made.wall;
    };

    scale.limitCpu(CPU_LIMIT);
    let times;
    try {
      // The reference every build is compared with, made first (it also warms the page cache).
      const reference = local(project('scale-reference'));
      await make(reference);
      const expected = projectOutputs(reference.cwd);
      const printed = (await run(join(reference.cwd, 'prog'), [])).stdout;
      if (!/^checksum \d+\n$/.test(printed)) throw new Error(`the local build's program printed ${printed}`);
      times = await interleave(cases, rounds, async (c) => {
        const ms = await make(c);
        const differing = differingOutputs(expected, projectOutputs(c.cwd));
        if (differing.length)
          throw new Error(
            `${c.label}: not what the local gcc made: ${differing.slice(0, 5).join(', ')}` +
              `${differing.length > 5 ? ` and ${differing.length - 5} more` : ''}`,
          );
        return ms;
      });
    } finally {
      scale.limitCpu(null);
    }

    const stats = cases.map((c, i) => ({ ...c, s: summary(times[i].map((ms) => ms / 1000)) }));
    const [ours, one, localBuild] = stats;
    const speedUp = one.s.median / ours.s.median;
    const spread = (label) => sessions[label].join('/');
    return {
      title: `Scale-out: make -j${JOBS} (${units + 1} units) through a gateway, ${REPLICAS} tools replicas vs 1`,
      subtitle:
        `clean builds from the build node, each replica and its commands limited to ${CPU_LIMIT} CPU ` +
        `(cgroup v${scale.replicas[0].group.version}); median of ${rounds} interleaved`,
      unit: 's',
      better: 'lower',
      translationUnits: units + 1,
      functionsPerUnit: functions,
      cpuLimit: CPU_LIMIT,
      bars: medianBars(stats, (c) => c.s),
      ratios: {
        [`speed-up, ${REPLICAS} replicas vs 1`]: round(speedUp, 3),
        [`${REPLICAS} replicas vs local gcc`]: round(ours.s.median / localBuild.s.median, 3),
      },
      sessionsPerReplica: sessions,
      gatewayConnections: {
        [`${REPLICAS} replicas`]: scale.connections(REPLICAS),
        '1 replica': scale.connections(1),
      },
      throttledSecondsPerReplica: Object.fromEntries(
        Object.entries(throttled).map(([label, ms]) => [label, ms.map((v) => round(v / 1000))]),
      ),
      targets: [
        {
          text: 'objects and program identical to the local build',
          actual: `${rounds * cases.length} builds identical`,
          met: true,
        },
        {
          text: `≥ ${GOAL}× faster with ${REPLICAS} replicas than 1`,
          actual: `${speedUp.toFixed(2)}×`,
          met: speedUp >= GOAL,
        },
      ],
      note:
        `${cpus().length} CPUs for everything (${REPLICAS} × ${CPU_LIMIT} CPU of replicas, the gateway, make, TLS); ` +
        `sessions per replica over all builds: ${REPLICAS} replicas ${spread(ours.label)}, 1 replica ${spread(one.label)}; ` +
        `connections of the ${REPLICAS}-replica gateway: ${scale.connections(REPLICAS)}`,
    };
  });

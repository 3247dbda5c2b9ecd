/**
 * The gateway's private memory (issue 24): RssAnon of a freshly started `k8pshd --gateway`,
 * connected to the tools node and idle with no session, then again idle after n sessions came and
 * went (`sizes.sequential` one after another, then `sizes.stubs` at once); beside: a Pod-local k8pshd started at the same
 * time, idle, and after the same sessions. RssAnon (anonymous resident pages: heap, buffers) is what
 * the process itself costs; VmRSS adds the shared, file-backed pages of the executable.
 */
import { sleep } from '../../test/lib/net.mjs';
import { bar } from '../lib/bars.mjs';
import { remoteFigure, rssAnonMiB, stubRun } from '../lib/remote.mjs';
import { round, rssMiB } from '../lib/stats.mjs';

const GOAL_MIB = 20;
/** After the sessions: the servers' idle reducer (src/server/idle-memory.ts) waits 1 s, then collects. */
const QUIET_MS = 3000;

export const remoteIdleRss = (ctx) =>
  remoteFigure(ctx, async (remote) => {
    const { options } = ctx;
    await remote.restartBuildSide();
    const pids = { gateway: remote.gateway.pid, local: remote.local.pid };
    const read = () =>
      Object.fromEntries(
        Object.entries(pids).map(([k, pid]) => [k, { anon: rssAnonMiB(pid), rss: rssMiB(pid) }]),
      );
    const idle = read();
    const { sequential, stubs } = options.sizes;
    const n = sequential + stubs;
    for (const where of ['remote', 'local']) {
      const stub = stubRun(remote, where, 'true');
      const repeated = await remote.driver.call({ op: 'repeat', count: sequential, ...stub });
      const printf = stubRun(remote, where, 'printf', ['%s', '{i}']);
      const wave = await remote.driver.call({ op: 'wave', n: stubs, ...printf });
      if (repeated.failed || wave.wrong)
        throw new Error(
          `${where}: ${repeated.failed} sequential sessions failed, ${wave.wrong} concurrent wrong`,
        );
    }
    await sleep(QUIET_MS + options.settleMs);
    const after = read();
    const gatewayIdle = idle.gateway.anon;
    const gatewayAfter = after.gateway.anon;
    return {
      title: 'Gateway private memory (RssAnon), idle',
      subtitle: `${options.settleMs} ms after it connected, no session; and idle again after ${n} sessions`,
      unit: 'MiB',
      better: 'lower',
      bars: [
        bar('gateway, connected, idle', gatewayIdle, 'ours'),
        bar(`gateway, idle after ${n} sessions`, gatewayAfter, 'info', { ratio: gatewayIdle / gatewayAfter }),
        bar('Pod-local k8pshd, idle', idle.local.anon, 'baseline', { ratio: gatewayIdle / idle.local.anon }),
        bar(`Pod-local k8pshd, idle after ${n} sessions`, after.local.anon, 'info', {
          ratio: gatewayIdle / after.local.anon,
        }),
      ],
      vmRssMiB: {
        'gateway idle': round(idle.gateway.rss),
        'gateway after': round(after.gateway.rss),
        'Pod-local idle': round(idle.local.rss),
        'Pod-local after': round(after.local.rss),
      },
      sessions: n,
      ratios: { 'vs Pod-local k8pshd idle': round(gatewayIdle / idle.local.anon, 3) },
      targets: [
        {
          text: `≤ ${GOAL_MIB} MiB idle`,
          actual: `${gatewayIdle.toFixed(1)} MiB`,
          met: gatewayIdle <= GOAL_MIB,
        },
        {
          text: `≤ ${GOAL_MIB} MiB idle after ${n} sessions`,
          actual: `${gatewayAfter.toFixed(1)} MiB`,
          met: gatewayAfter <= GOAL_MIB,
        },
      ],
      note: `VmRSS (with the executable's shared pages): gateway ${idle.gateway.rss.toFixed(1)} MiB idle, Pod-local k8pshd ${idle.local.rss.toFixed(1)} MiB`,
    };
  });

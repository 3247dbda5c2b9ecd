/** Many sequential sessions on a fresh server: its descriptors and memory must not grow. */
import { sleep } from '../../test/lib/net.mjs';
import { bar } from '../lib/bars.mjs';
import { openFds, round, rssMiB } from '../lib/stats.mjs';
import { runSession } from '../lib/wire.mjs';

export async function sequentialSessions({ ours, options }) {
  const { sequential: n, warmUp } = options.sizes;
  await ours.restart();
  const trajectory = [];
  const sessions = async (count, record) => {
    let failed = 0;
    for (let i = 1; i <= count; i++) {
      if ((await runSession(ours.port, 'true')).code !== 0) failed++;
      if (record && i % Math.max(1, Math.floor(count / 8)) === 0)
        trajectory.push({ sessions: i, rssMiB: round(rssMiB(ours.pid)), fds: openFds(ours.pid) });
    }
    return failed;
  };
  await sessions(warmUp, false);
  await sleep(options.settleMs);
  const before = { fds: openFds(ours.pid), rssMiB: rssMiB(ours.pid) };
  const start = process.hrtime.bigint();
  const failed = await sessions(n, true);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await sleep(options.settleMs);
  const after = { fds: openFds(ours.pid), rssMiB: rssMiB(ours.pid) };
  const rssDelta = after.rssMiB - before.rssMiB;
  const noise = Math.max(5, 0.1 * before.rssMiB);
  return {
    title: `${n} sequential sessions: server fds and RSS`,
    subtitle: `after ${warmUp} warm-up sessions; ${((seconds * 1000) / n).toFixed(2)} ms per session; ${failed} failed`,
    unit: 'MiB',
    better: 'lower',
    sessions: n,
    failed,
    msPerSession: round((seconds * 1000) / n, 3),
    before: { fds: before.fds, rssMiB: round(before.rssMiB) },
    after: { fds: after.fds, rssMiB: round(after.rssMiB) },
    trajectory,
    bars: [
      bar(`RSS after ${n}`, after.rssMiB, 'ours', { note: `${after.fds} fds` }),
      bar('RSS before', before.rssMiB, 'baseline', {
        ratio: after.rssMiB / before.rssMiB,
        note: `${before.fds} fds`,
      }),
    ],
    ratios: { 'RSS after vs before': round(after.rssMiB / before.rssMiB, 3) },
    targets: [
      { text: 'no fd growth', actual: `${before.fds} → ${after.fds}`, met: after.fds <= before.fds },
      {
        text: `RSS within noise (±${noise.toFixed(1)} MiB)`,
        actual: `${rssDelta >= 0 ? '+' : ''}${rssDelta.toFixed(1)} MiB`,
        met: Math.abs(rssDelta) <= noise,
      },
      { text: 'every session exits 0', actual: `${failed} failed`, met: failed === 0 },
    ],
    note: `a fresh server; RSS along the way: ${trajectory.map((t) => t.rssMiB.toFixed(0)).join(', ')} MiB`,
  };
}

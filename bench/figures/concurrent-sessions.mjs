/** n sessions at once from one client process (the original wire protocol), beside n local echos. */
import { concurrency, wave } from '../lib/concurrency.mjs';
import { run } from '../lib/process.mjs';
import { round } from '../lib/stats.mjs';
import { runSession } from '../lib/wire.mjs';

export async function concurrentSessions({ ours, reference, options }) {
  const n = options.sizes.concurrent;
  const expected = (i) => `session-${i}\n`;
  const viaServer = (target) => () =>
    wave(n, (i) => runSession(target.port, 'echo', [`session-${i}`]), expected);
  const local = () =>
    wave(n, (i) => run('echo', [`session-${i}`], { stdio: ['ignore', 'pipe', 'pipe'] }), expected);
  const { stats, ...shown } = await concurrency(
    [
      { label: `k8psh server, ${n} at once`, role: 'ours', go: viaServer(ours) },
      ...(reference ? [{ label: 'original k8psh server', role: 'reference', go: viaServer(reference) }] : []),
      { label: `${n} local echo processes`, role: 'baseline', go: local },
    ],
    options.sizes.rounds,
  );
  return {
    title: `${n} concurrent sessions (one client process, wire protocol)`,
    subtitle: `wall time until all ${n} exited; every output checked; median of ${options.sizes.rounds}`,
    unit: 'ms',
    better: 'lower',
    sessions: n,
    ...shown,
    ratios: { 'vs local processes': round(stats[0].s.median / stats.at(-1).s.median, 2) },
    note: 'the client speaks the original protocol from bench/lib/wire.mjs; the remote command is echo session-N',
  };
}

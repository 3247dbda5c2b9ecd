/** The server's resident memory when idle, beside an idle node. */
import { spawn } from 'node:child_process';
import { sleep } from '../../test/lib/net.mjs';
import { bar } from '../lib/bars.mjs';
import { NODE } from '../lib/process.mjs';
import { round, rssMiB } from '../lib/stats.mjs';

export async function idleRss({ ours, reference, options }) {
  const idle = spawn(NODE, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(options.settleMs);
  const nodeIdle = rssMiB(idle.pid);
  idle.kill('SIGKILL');
  const bars = [
    bar('k8pshd idle', ours.idleRssMiB, 'ours'),
    ...(reference
      ? [
          bar('original k8pshd idle', reference.idleRssMiB, 'reference', {
            ratio: ours.idleRssMiB / reference.idleRssMiB,
          }),
        ]
      : []),
    bar('node -e setInterval (idle)', nodeIdle, 'baseline', { ratio: ours.idleRssMiB / nodeIdle }),
  ];
  return {
    title: 'Server RSS, idle',
    subtitle: `VmRSS ${options.settleMs} ms after start, before any session`,
    unit: 'MiB',
    better: 'lower',
    bars,
    ratios: { 'vs idle node': round(ours.idleRssMiB / nodeIdle, 2) },
    targets: [{ text: '≤ 60 MiB', actual: `${ours.idleRssMiB.toFixed(1)} MiB`, met: ours.idleRssMiB <= 60 }],
  };
}

/**
 * The server's peak memory while a slow reader drains a relayed stream: back-pressure must hold it.
 * On a fresh server; the long-running one after the throughput figures is shown beside.
 */
import { readlinkSync } from 'node:fs';
import { bar } from '../lib/bars.mjs';
import { NODE, SLOW_READER, quote, run } from '../lib/process.mjs';
import { MiB, childrenOf, resetPeak, round, rssMiB, statusKiB } from '../lib/stats.mjs';

export async function slowReaderRss(ctx) {
  const { ours, reference, options } = ctx;
  const { slow: bytes, slowRate } = options.sizes;
  const measure = async (target) => {
    const before = rssMiB(target.pid);
    const peakReset = resetPeak(target.pid);
    let serverPeak = before;
    let clientPeak = 0;
    let clientPid = null;
    const pipeline = `${quote(target.stub('head'))} -c ${bytes} /dev/zero | ${quote(NODE)} ${quote(SLOW_READER)} ${slowRate}`;
    let shell = null;
    // Relayed: with passed descriptors the server is not in the data path at all.
    const done = run('sh', ['-c', pipeline], {
      env: { ...target.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: target.work,
      stdio: ['ignore', 'pipe', 'pipe'],
      onSpawn: (child) => (shell = child),
    });
    const sampler = setInterval(() => {
      serverPeak = Math.max(serverPeak, rssMiB(target.pid) || 0);
      if (clientPid === null && shell)
        clientPid =
          childrenOf(shell.pid).find((pid) => {
            try {
              return readlinkSync(`/proc/${pid}/exe`) === target.binary;
            } catch {
              return false;
            }
          }) ?? null;
      if (clientPid !== null) clientPeak = Math.max(clientPeak, rssMiB(clientPid) || 0);
    }, 20);
    const result = await done;
    clearInterval(sampler);
    if (peakReset) serverPeak = Math.max(serverPeak, statusKiB(target.pid, 'VmHWM') / 1024);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() || '{}');
    if (report.bytes !== bytes)
      throw new Error(`slow reader: ${report.bytes} bytes arrived, ${bytes} expected: ${result.stderr}`);
    return { before, serverPeak, clientPeak, rate: report.mibPerSecond, peakReset };
  };
  // A fresh server: what earlier figures left in the long-running one is reported beside, not mixed in.
  const warm = ctx.warmRssMiB ?? rssMiB(ours.pid);
  await ours.restart();
  const oursResult = await measure(ours);
  if (reference) await reference.restart();
  const refResult = reference ? await measure(reference) : null;
  const bars = [
    bar('k8pshd peak', oursResult.serverPeak, 'ours'),
    bar('k8pshd before', oursResult.before, 'baseline', { ratio: oursResult.serverPeak / oursResult.before }),
    ...(refResult
      ? [
          bar('original k8pshd peak', refResult.serverPeak, 'reference', {
            ratio: oursResult.serverPeak / refResult.serverPeak,
          }),
        ]
      : []),
    bar('stub (client) peak', oursResult.clientPeak, 'info'),
    ...(Number.isFinite(warm) ? [bar('k8pshd after throughput figs', warm, 'info')] : []),
  ];
  return {
    title: `Server peak RSS, slow reader (${bytes / MiB} MiB at ${slowRate} MiB/s)`,
    subtitle: `relayed (K8PSH_DIRECT_STDIO=0); reader ${oursResult.rate.toFixed(1)} MiB/s; VmRSS sampled every 20 ms${oursResult.peakReset ? ' + VmHWM' : ''}`,
    unit: 'MiB',
    better: 'lower',
    bytes,
    bars,
    server: {
      beforeMiB: round(oursResult.before),
      peakMiB: round(oursResult.serverPeak),
      afterThroughputFiguresMiB: round(warm),
    },
    client: { peakMiB: round(oursResult.clientPeak) },
    readerMiBPerSecond: round(oursResult.rate),
    ...(refResult
      ? { reference: { beforeMiB: round(refResult.before), peakMiB: round(refResult.serverPeak) } }
      : {}),
    ratios: { 'peak vs before': round(oursResult.serverPeak / oursResult.before, 2) },
    targets: [
      {
        text: '≤ 100 MiB',
        actual: `${oursResult.serverPeak.toFixed(1)} MiB`,
        met: oursResult.serverPeak <= 100,
      },
    ],
    note: 'on a freshly started server; "after throughput figs": the long-running server after the full-speed figures',
  };
}

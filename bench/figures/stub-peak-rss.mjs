/**
 * Peak RSS of one stub process (the larger of wait4's ru_maxrss and its exact RSS at exit:
 * bench/lib/peak-rss.c), beside /bin/true, `node -e 0` and the original.
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { buildPeakRss, peakRss } from '../lib/peak-rss.mjs';
import { round, summary } from '../lib/stats.mjs';
import { trueCases } from '../lib/true-cases.mjs';

const GOAL_MIB = 2;

export async function stubPeakRss({ ours, reference, options }) {
  const helper = buildPeakRss(options.scratch);
  const cases = trueCases({ ours, reference });
  const runs = Math.max(3, Math.ceil(options.runs / 3));
  const peaks = await interleave(
    cases,
    runs,
    (c) => {
      const { kib, status } = peakRss(helper.file, c);
      if (status !== 0) throw new Error(`${c.label} failed (wait status ${status})`);
      return kib / 1024;
    },
    { warmUp: 1 },
  );
  const stats = cases.map((c, i) => ({ ...c, s: summary(peaks[i]) }));
  const ours_ = stats[0].s.median;
  const floor = stats.find((c) => c.label === '/bin/true').s.median;
  return {
    title: 'Peak RSS of one stub process',
    subtitle: `max(wait4 ru_maxrss, RSS at exit) of the process, median of ${runs} interleaved runs`,
    unit: 'MiB',
    better: 'lower',
    bars: medianBars(stats, (c) => c.s),
    ratios: { 'vs /bin/true': round(ours_ / floor, 2) },
    targets: [{ text: `≤ ${GOAL_MIB} MiB`, actual: `${ours_.toFixed(2)} MiB`, met: ours_ <= GOAL_MIB }],
    note: `measured by bench/lib/peak-rss.c (${helper.compiler}): ru_maxrss, or the RSS at exit (smaps_rollup) where the kernel's approximate counters show less`,
  };
}

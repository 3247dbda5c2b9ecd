/**
 * What the two concurrency figures share: waves of n runs started at once, timed until all ended,
 * every output checked; their bars, wrong-output counts and target.
 */
import { medianBars } from './bars.mjs';
import { interleave } from './interleave.mjs';
import { summary } from './stats.mjs';

/**
 * Starts `start(i)` for i in 0..n-1 at once (each resolving with { code, stdout }); the wall time
 * (ms) until all ended, and how many did not exit 0 with `expected(i)` as their whole stdout.
 */
export async function wave(n, start, expected) {
  const begun = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => start(i)));
  const ms = Number(process.hrtime.bigint() - begun) / 1e6;
  return { ms, wrong: results.filter((r, i) => r.code !== 0 || r.stdout !== expected(i)).length };
}

/**
 * Interleaved rounds of every case's `go()` (a wave); `cases[0]` is ours. Returns the per-case
 * summaries (`stats`, times in `s`) and the figure's bars, wrongOutputs and targets.
 */
export async function concurrency(cases, rounds) {
  const waves = await interleave(cases, rounds, (c) => c.go());
  const stats = cases.map((c, i) => ({
    ...c,
    s: summary(waves[i].map((w) => w.ms)),
    wrong: waves[i].reduce((sum, w) => sum + w.wrong, 0),
  }));
  const ours = stats[0];
  return {
    stats,
    bars: medianBars(
      stats,
      (c) => c.s,
      (c) => ({ note: `${c.wrong} wrong` }),
    ),
    wrongOutputs: Object.fromEntries(stats.map((c) => [c.label, c.wrong])),
    targets: [{ text: 'no wrong output', actual: `${ours.wrong} wrong`, met: ours.wrong === 0 }],
  };
}

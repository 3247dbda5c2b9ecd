/**
 * The measuring skeleton every comparison shares: each case measured `rounds` times, interleaved
 * (one run of each, then again), so that a change of load on this shared machine hits ours and the
 * baselines alike.
 */
import { setImmediate } from 'node:timers';

/**
 * Calls `measure(case)` for every case, round after round; returns, per case (in order), what it
 * returned. `warmUp` rounds come first and are not kept; `keepGoing()` is asked before each round
 * (e.g. stop once perf turns out not to work).
 */
export async function interleave(cases, rounds, measure, { warmUp = 0, keepGoing = () => true } = {}) {
  const values = cases.map(() => []);
  for (let round = 0; round < warmUp + rounds && keepGoing(); round++) {
    for (const [index, c] of cases.entries()) {
      const value = await measure(c);
      if (round >= warmUp) values[index].push(value);
    }
    // A turn of the event loop between rounds: most measurements block (spawnSync), and without it
    // a SIGINT or SIGTERM would wait for the whole figure before the servers are stopped.
    await new Promise((resolveTurn) => setImmediate(resolveTurn));
  }
  return values;
}

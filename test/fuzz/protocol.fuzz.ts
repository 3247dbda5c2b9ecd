/**
 * Long fuzzing of the protocol layer: the properties of
 * test/protocol/fixtures/fuzz-properties.ts, FUZZ_RUNS times each (default
 * 100000). Not part of `tap` (it only includes *.test.ts); run it with
 *   npm run fuzz
 * i.e. tap --timeout=0 test/fuzz/protocol.fuzz.ts
 * FUZZ_SEED=<n> replays a run; a failure prints its seed and counterexample.
 */
import t from 'tap';
import { properties } from '../protocol/fixtures/fuzz-properties.js';

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);

for (const property of properties)
  t.test(property.name, async (t) => {
    const started = Date.now();
    property.run(runs);
    t.pass(`${runs} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

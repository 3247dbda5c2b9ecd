/**
 * The protocol fuzz properties at a size the suite can afford (~3k cases).
 * `npm run fuzz` runs the same properties 100k times each (test/fuzz/protocol.fuzz.ts).
 */
import t from 'tap';
import { properties } from './fixtures/fuzz-properties.js';

const RUNS = 400;

for (const property of properties)
  t.test(property.name, async (t) => {
    property.run(RUNS);
    t.pass(`${RUNS} cases`);
  });

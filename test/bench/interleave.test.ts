/**
 * The benchmark's measuring skeleton (bench/lib/interleave.mjs): cases take turns round after round,
 * so a change of load hits them alike; warm-up rounds run but are not kept; a failure ends it all.
 */
import t from 'tap';
import { interleave } from '../../bench/lib/interleave.mjs';

t.test('one run of each case, then again; warm-up rounds dropped', async (t) => {
  const calls: string[] = [];
  let clock = 0;
  const values = await interleave(
    ['a', 'b', 'c'],
    2,
    async (name) => {
      calls.push(name);
      return `${name}${clock++}`;
    },
    { warmUp: 1 },
  );
  t.same(calls, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'], 'interleaved, warm-up round first');
  t.same(values, [
    ['a3', 'a6'],
    ['b4', 'b7'],
    ['c5', 'c8'],
  ]);
});

t.test('keepGoing is asked before every round', async (t) => {
  let rounds = 0;
  const values = await interleave([1, 2], 5, (n) => (n === 2 ? ++rounds : n), {
    keepGoing: () => rounds < 2,
  });
  t.same(values, [
    [1, 1],
    [1, 2],
  ]);
});

t.test('a failing measurement rejects', async (t) => {
  await t.rejects(
    interleave(['ok', 'bad'], 3, (name) => {
      if (name === 'bad') throw new Error('bad failed with status 1');
      return 0;
    }),
    /bad failed/,
  );
});

t.test(
  'the event loop gets a turn between rounds (a signal is not held up by a blocking figure)',
  async (t) => {
    const seen: number[] = [];
    let round = 0;
    const ticker = setImmediate(() => seen.push(round));
    await interleave([1], 3, () => {
      round++;
      return round;
    });
    clearImmediate(ticker);
    t.same(seen, [1], 'a macrotask queued before the first round ran right after it');
  },
);

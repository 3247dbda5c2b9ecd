/**
 * The idle server gives its heap back (docs/benchmarks.md): V8 grows the young generation under a
 * server's steady trickle of survivors and shrinks it only in a memory-reducing collection, which
 * its own memory reducer starts ~20 s after the load stops. These tests grow it here, in this
 * process, and check that the reducer shrinks it once idle, and leaves it alone while busy.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import t from 'tap';
import { IdleMemoryReducer } from '../../src/server/idle-memory.js';

const MiB = 1 << 20;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function youngGeneration(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/** Allocates with some survivors, as a busy server does, until V8 has grown its young generation. */
function growYoungGeneration(atLeast: number): void {
  let kept: object[] = [];
  for (let i = 0; i < 50_000_000 && youngGeneration() < atLeast; i++) {
    const item = { i, text: `item ${i}` };
    if (i % 3 === 0) kept.push(item);
    if (kept.length > 2000) kept = [];
  }
}

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(20)) if (check()) return true;
  return check();
}

t.test('an idle server shrinks the young generation V8 grew', async (t) => {
  growYoungGeneration(16 * MiB);
  const grown = youngGeneration();
  t.ok(grown >= 16 * MiB, `young generation grown to ${grown / MiB} MiB`);

  let idle = false;
  const reducer = new IdleMemoryReducer({ isIdle: () => idle, delayMs: 20, growthBytes: 0 });
  t.teardown(() => reducer.stop());
  reducer.sessionEnded();
  await sleep(300);
  t.equal(youngGeneration(), grown, 'not while a session runs');

  idle = true;
  reducer.sessionEnded();
  t.ok(
    await eventually(() => youngGeneration() <= 4 * MiB, 5000),
    `shrunk once idle: ${grown / MiB} → ${youngGeneration() / MiB} MiB`,
  );
});

t.test('it collects only when the heap has grown since the last time', async (t) => {
  let collections = 0;
  const collect = (done: () => void): void => {
    collections++;
    done();
  };
  const reducer = new IdleMemoryReducer({ isIdle: () => true, delayMs: 10, growthBytes: 64 * MiB, collect });
  t.teardown(() => reducer.stop());
  reducer.sessionEnded();
  await sleep(200);
  t.equal(collections, 0, 'a heap that did not grow is left alone (health probes)');

  const grower = new IdleMemoryReducer({ isIdle: () => true, delayMs: 10, growthBytes: 1, collect });
  t.teardown(() => grower.stop());
  // Sessions ending one after the other push the collection back: one, after the last.
  for (let i = 0; i < 5; i++) grower.sessionEnded();
  const before = getHeapStatistics().total_heap_size;
  const held = new Array<number>(4 * MiB).fill(1);
  t.ok(getHeapStatistics().total_heap_size > before, 'the heap grew');
  await sleep(200);
  t.equal(collections, 1, 'one collection, after the last session');
  held.length = 0;
});

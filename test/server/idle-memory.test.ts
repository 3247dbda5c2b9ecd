/**
 * The idle server gives its heap back (docs/benchmarks.md): V8 grows the young generation under a
 * server's steady trickle of survivors and shrinks it only in a memory-reducing collection, which
 * its own memory reducer starts ~20 s after the load stops. These tests grow it here, in this
 * process, and check that the reducer shrinks it once idle, and leaves it alone while busy. And the
 * C allocator's free memory (docs/limits.md): buffers freed below a live one stay resident until
 * malloc_trim, which the reducer calls through the addon once idle.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import t from 'tap';
import { syscalls } from '../../src/native/syscalls.js';
import { anonymousResident, IdleMemoryReducer } from '../../src/server/idle-memory.js';

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
  const reducer = new IdleMemoryReducer({
    isIdle: () => true,
    delayMs: 10,
    growthBytes: 64 * MiB,
    residentGrowthBytes: 64 * MiB,
    collect,
  });
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

t.test(
  'buffers freed below live ones: the allocator keeps their pages until the idle trim',
  { skip: syscalls() ? false : 'no addon: npm run build:native' },
  async (t) => {
    // 64 KiB buffers come from malloc's heap (under its mmap threshold); one in 16 stays alive, so
    // the freed ones are holes that free() cannot give back.
    const pins = Array.from({ length: 1600 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1)).filter(
      (_, i) => i % 16 === 15,
    );
    const loaded = anonymousResident();

    let trims = 0;
    const reducer = new IdleMemoryReducer({
      isIdle: () => true,
      delayMs: 10,
      growthBytes: Infinity,
      residentGrowthBytes: 0,
      trim: () => {
        trims++;
        syscalls()!.trimMemory();
      },
    });
    t.teardown(() => reducer.stop());
    reducer.sessionEnded();
    t.ok(await eventually(() => trims > 0, 5000), 'trimmed once idle, for resident growth alone');
    const given = loaded - anonymousResident();
    t.ok(given > 60 * MiB, `${(given / MiB).toFixed(0)} MiB given back (94 were freed)`);
    t.equal(pins.length, 100);
  },
);

t.test('settle(): once, whatever grew, only when idle, and the next growth counts from there', async (t) => {
  let collections = 0;
  let trims = 0;
  let idle = false;
  const reducer = new IdleMemoryReducer({
    isIdle: () => idle,
    delayMs: 10,
    growthBytes: 64 * MiB,
    residentGrowthBytes: 64 * MiB,
    collect: (done) => {
      collections++;
      done();
    },
    trim: () => trims++,
  });
  t.teardown(() => reducer.stop());
  reducer.settle();
  t.same([collections, trims], [0, 0], 'a session running: nothing (it would block the session)');
  idle = true;
  reducer.settle();
  t.same([collections, trims], [1, 1], 'idle: collected and trimmed though nothing grew by the thresholds');
  reducer.sessionEnded();
  await sleep(100);
  t.equal(collections, 1, 'afterwards, the usual rule: no growth, no collection');
});

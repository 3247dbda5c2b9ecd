/**
 * Memory given back when the server goes idle (docs/benchmarks.md). Not a leak: every spawn and
 * socket leaves objects that outlive a young-generation collection (a bare net + spawn server does
 * the same), and V8 answers a steady trickle of survivors by doubling its young generation up to
 * the maximum (semi-spaces 4 → 16 MiB: 32 MiB resident) and keeps the old generation's emptied
 * pages. It gives both back only in a memory-reducing collection, which its own memory reducer
 * starts ~20 s after the load stops: 2000 sessions left RSS 68 → 97 MiB until then. A plain full
 * `gc()` does not shrink the young generation; V8's low-memory notification does, and the one door
 * to it from JavaScript is the in-process inspector (HeapProfiler.collectGarbage). It blocks the
 * event loop for a few tens of ms, so it runs only once no session has run for IDLE_MS, and only
 * when the heap has grown since the last time (a health probe now and then does not trigger it).
 */
import type { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';

const IDLE_MS = 1000;
/** Committed heap growth that is worth a collection: one doubling of a small young generation. */
const GROWTH_BYTES = 4 << 20;

export interface IdleMemoryOptions {
  /** True when no session is running. */
  isIdle(): boolean;
  delayMs?: number;
  growthBytes?: number;
  /** Test seam: what reclaims the memory; calls done when it is over. */
  collect?: (done: () => void) => void;
}

export class IdleMemoryReducer {
  private timer: NodeJS.Timeout | null = null;
  private baseline = getHeapStatistics().total_heap_size;
  private readonly collect: (done: () => void) => void;

  constructor(private readonly options: IdleMemoryOptions) {
    this.collect = options.collect ?? lowMemoryNotification;
  }

  /** A session ended: once none has run for the delay, the memory goes back. */
  sessionEnded(): void {
    // One timer, pushed back by every session that ends: nothing to do while sessions keep coming.
    this.timer ??= setTimeout(() => this.onIdle(), this.options.delayMs ?? IDLE_MS).unref();
    this.timer.refresh();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onIdle(): void {
    // A session still running re-arms the timer when it ends.
    if (!this.options.isIdle()) return;
    if (getHeapStatistics().total_heap_size - this.baseline < (this.options.growthBytes ?? GROWTH_BYTES))
      return;
    this.collect(() => (this.baseline = getHeapStatistics().total_heap_size));
  }
}

/** V8's low-memory notification: full collections that also shrink the young generation. */
function lowMemoryNotification(done: () => void): void {
  let session: Session;
  try {
    // Loaded here: a server that never goes idle after work does not need it.
    const inspector = createRequire(import.meta.url)('node:inspector') as { Session: typeof Session };
    session = new inspector.Session();
    session.connect();
  } catch {
    // A node built without the inspector: V8's memory reducer does it, later.
    return done();
  }
  session.post('HeapProfiler.collectGarbage', () => {
    // Not from within the reply: disconnecting there stalls Node 20's event loop.
    setImmediate(() => session.disconnect());
    done();
  });
}

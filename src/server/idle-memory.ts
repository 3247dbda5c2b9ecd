/**
 * Memory given back when the server goes idle (docs/benchmarks.md, docs/limits.md), of two kinds.
 *
 * The V8 heap (docs/benchmarks.md, "Memory after many sessions"). Not a leak: every spawn and
 * socket leaves objects that outlive a young-generation collection (a bare net + spawn server does
 * the same), and V8 answers a steady trickle of survivors by doubling its young generation up to
 * the maximum (semi-spaces 4 → 16 MiB: 32 MiB resident) and keeps the old generation's emptied
 * pages. It gives both back only in a memory-reducing collection, which its own memory reducer
 * starts ~20 s after the load stops: 2000 sessions left RSS 68 → 97 MiB until then. A plain full
 * `gc()` does not shrink the young generation; V8's low-memory notification does, and the one door
 * to it from JavaScript is the in-process inspector (HeapProfiler.collectGarbage).
 *
 * The C allocator's (docs/limits.md, "Memory under a request flood"). Socket reads and requests in
 * progress are buffers outside the V8 heap; once they are freed, glibc's malloc keeps their pages
 * unless they sit at the top of its heap. Clients that filled the request budget over and over left
 * the server at 168 MiB (74 at the start) with 9 MB of V8 heap and 2 MB of buffers in use, until
 * malloc_trim(0) (native/syscalls/trim.c) gave 90 MiB back.
 *
 * Both block the event loop (each up to tens of ms), so they run only once no session has run for
 * IDLE_MS, and only when the heap or the anonymous resident memory has grown since the last time
 * (a health probe now and then does not trigger them). The collection comes first: it frees the
 * buffers whose pages the trim then gives back.
 */
import { readFileSync } from 'node:fs';
import type { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { syscalls } from '../native/syscalls.js';

const IDLE_MS = 1000;
/** Committed heap growth that is worth a collection: one doubling of a small young generation. */
const GROWTH_BYTES = 4 << 20;
/**
 * Anonymous resident growth worth a collection and a trim: well above what a few sessions leave
 * (under 1 MiB), well below what a request flood leaves (tens of MiB).
 */
const RESIDENT_GROWTH_BYTES = 8 << 20;

export interface IdleMemoryOptions {
  /** True when no session is running. */
  isIdle(): boolean;
  delayMs?: number;
  growthBytes?: number;
  residentGrowthBytes?: number;
  /** Test seam: what reclaims the memory; calls done when it is over. */
  collect?: (done: () => void) => void;
  /** Test seam: what gives the C allocator's free memory back (default: malloc_trim, by the addon). */
  trim?: () => void;
}

export class IdleMemoryReducer {
  private timer: NodeJS.Timeout | null = null;
  private baseline = getHeapStatistics().total_heap_size;
  private residentBaseline = anonymousResident();
  private readonly collect: (done: () => void) => void;
  private readonly trim: () => void;

  constructor(private readonly options: IdleMemoryOptions) {
    this.collect = options.collect ?? lowMemoryNotification;
    this.trim = options.trim ?? (() => syscalls()?.trimMemory());
  }

  /** A session ended: once none has run for the delay, the memory goes back. */
  sessionEnded(): void {
    // One timer, pushed back by every session that ends: nothing to do while sessions keep coming.
    this.timer ??= setTimeout(() => this.onIdle(), this.options.delayMs ?? IDLE_MS).unref();
    this.timer.refresh();
  }

  /**
   * Once, now if idle: what start-up left (the configuration's parse, the option parser, a TLS
   * handshake) goes, and the baselines start from there. For a gateway, whose idle footprint in
   * every build Pod is the figure that counts.
   */
  settle(): void {
    if (!this.options.isIdle()) return;
    this.collect(() => {
      this.trim();
      this.baseline = getHeapStatistics().total_heap_size;
      this.residentBaseline = anonymousResident();
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onIdle(): void {
    // A session still running re-arms the timer when it ends.
    if (!this.options.isIdle()) return;
    const heapGrew =
      getHeapStatistics().total_heap_size - this.baseline >= (this.options.growthBytes ?? GROWTH_BYTES);
    const residentGrew =
      anonymousResident() - this.residentBaseline >=
      (this.options.residentGrowthBytes ?? RESIDENT_GROWTH_BYTES);
    if (!heapGrew && !residentGrew) return;
    this.collect(() => {
      this.trim();
      this.baseline = getHeapStatistics().total_heap_size;
      this.residentBaseline = anonymousResident();
    });
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

/**
 * Resident memory that is not a file's (the heaps, the stacks): what a load leaves behind, without
 * the executable's pages that running more of its code brings in. RSS where /proc is missing.
 */
export function anonymousResident(): number {
  try {
    const kib = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'));
    if (kib) return Number(kib[1]) * 1024;
  } catch {
    // No /proc: below.
  }
  return process.memoryUsage.rss();
}

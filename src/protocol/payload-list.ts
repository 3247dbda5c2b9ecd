/**
 * The arguments or variables of a request in progress, kept as bytes until START_COMMAND turns them
 * into strings (./server-session.ts).
 *
 * Why not strings at once: a request takes its time to arrive, so its strings outlive the V8
 * young-generation collections that run meanwhile; a steady stream of such survivors makes V8 grow
 * its young generation to the maximum (128 MiB in Node 24) and promote them, and the old generation
 * then keeps the pages of every request that was refused or abandoned until its next full
 * collection: rounds of clients sending 60000 small arguments each and giving up took the server
 * to 340 MiB (docs/limits.md, "Memory under a request flood"). As bytes, a request costs about its
 * size, outside the V8 heap, in a few blocks freed at once when it goes.
 */
import { freeBuffer } from './free-buffer.js';

/** No payload yet: a list that never gets one (most requests have no variables) allocates nothing. */
const NO_ENDS = new Uint32Array(0);

export class PayloadList {
  /**
   * Where each payload ends in its block. Typed, like the rest: one JavaScript number or reference
   * a payload, for 65536 small arguments, would be the very heap survivors this class avoids.
   */
  private ends = NO_ENDS;
  private size = 0;
  /** The blocks, and the index of the first payload of each. */
  private blocks: Buffer[] = [];
  private firsts: number[] = [];
  private fill = 0;

  /** `largestBlock`: no block is larger (unless one payload is), so no allocation exceeds the frame cap. */
  constructor(private readonly largestBlock: number) {}

  get count(): number {
    return this.size;
  }

  /** Appends a copy of the payload (a view the caller does not keep). */
  push(payload: Buffer): void {
    let block = this.blocks.at(-1);
    if (block === undefined || this.fill + payload.length > block.length) {
      // Blocks double (from 256 bytes up to the cap): what is held stays under about twice what
      // arrived, and no byte is copied twice.
      const size = Math.min(this.largestBlock, Math.max(256, 2 * (block?.length ?? 0)));
      // A small one is a slice of Node's pool, left to the collector; from 4 KiB on, a buffer of
      // its own, freed when the request goes (./free-buffer.ts).
      block = Buffer.allocUnsafe(Math.max(size, payload.length));
      this.blocks.push(block);
      this.firsts.push(this.size);
      this.fill = 0;
    }
    payload.copy(block, this.fill);
    this.fill += payload.length;
    if (this.size === this.ends.length) {
      const grown = new Uint32Array(Math.max(16, 2 * this.size));
      grown.set(this.ends);
      freeBuffer(this.ends);
      this.ends = grown;
    }
    this.ends[this.size++] = this.fill;
  }

  /** Each payload as UTF-8 text, in order; the bytes are dropped. */
  take(): string[] {
    const strings = this.strings();
    this.clear();
    return strings;
  }

  /** Each payload as UTF-8 text, in order. */
  strings(): string[] {
    const strings: string[] = [];
    for (let b = 0; b < this.blocks.length; b++) {
      const block = this.blocks[b]!;
      const last = b + 1 < this.blocks.length ? this.firsts[b + 1]! : this.size;
      let start = 0;
      for (let i = this.firsts[b]!; i < last; i++) {
        strings.push(block.toString('utf8', start, this.ends[i]));
        start = this.ends[i]!;
      }
    }
    return strings;
  }

  /** Frees the bytes now: a refused request's memory goes with it, not at a later collection. */
  clear(): void {
    if (this.ends === NO_ENDS) return;
    for (const block of this.blocks) freeBuffer(block);
    freeBuffer(this.ends);
    this.ends = NO_ENDS;
    this.size = 0;
    this.blocks = [];
    this.firsts = [];
    this.fill = 0;
  }
}

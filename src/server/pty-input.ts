/**
 * A terminal command's input, written through a descriptor of our own on the pty master.
 *
 * node-pty queues writes and makes them later with fs.write on its master's number; when the
 * terminal ends it closes that descriptor, and a write still queued (the ^D of a client's stdin end,
 * late stdin) then went to whatever reused the number: the next client's socket, or a descriptor
 * another client had just passed. About one terminal session in 150 under concurrent load put a
 * byte into another session that way. Our duplicate stays open until our own queue is done with.
 *
 * Writes are bounded too: write() says false past HIGH_WATER bytes queued, and the session stops
 * reading its client until onDrain (node-pty's queue grew without limit when the command did not
 * read).
 */
import { closeSync, write } from 'node:fs';

const HIGH_WATER = 64 * 1024;
/** The master is non-blocking: a full terminal answers EAGAIN, tried again this much later. */
const RETRY_MS = 5;

export class PtyInput {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private closing = false;
  private fd: number | null;
  private readonly drained: (() => void)[] = [];

  constructor(fd: number) {
    this.fd = fd;
  }

  /** False: wait for onDrain before writing more. */
  write(chunk: Buffer): boolean {
    if (this.closing) return true;
    // A copy: the caller's chunk may be a view into a buffer it reuses.
    this.queue.push(Buffer.from(chunk));
    this.queued += chunk.length;
    this.pump();
    return this.queued < HIGH_WATER;
  }

  onDrain(callback: () => void): void {
    if (this.queued < HIGH_WATER) callback();
    else this.drained.push(callback);
  }

  /** The command ended: what is still queued is dropped, the descriptor closed once no write is out. */
  close(): void {
    this.closing = true;
    this.queue.length = 0;
    this.queued = 0;
    this.release();
  }

  private pump(): void {
    if (this.writing || this.fd === null) return;
    const chunk = this.queue[0];
    if (!chunk) return this.release();
    this.writing = true;
    write(this.fd, chunk, 0, chunk.length, null, (error, written) => {
      this.writing = false;
      if (error?.code === 'EAGAIN') return void setTimeout(() => this.pump(), RETRY_MS);
      if (error) {
        // EIO: the terminal is gone; nothing more will be read.
        this.queue.length = 0;
        this.queued = 0;
      } else if (written < chunk.length) {
        this.queue[0] = chunk.subarray(written);
        this.queued -= written;
      } else {
        this.queue.shift();
        this.queued -= written;
      }
      this.pump();
    });
  }

  /** Below the mark: the waiting reader goes on; closing with nothing out: the descriptor goes. */
  private release(): void {
    if (this.queued < HIGH_WATER) for (const callback of this.drained.splice(0)) callback();
    if (this.closing && !this.writing && this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/**
 * The relaying client's socket `onread`: every read goes into one reused buffer (no allocation, no
 * page faults per read). The consumer returns false while some of the bytes it was given are still
 * referenced (queued in an output), which pauses the socket; it resumes it once they are gone.
 * Bytes that arrive before a consumer is attached are copied.
 */
import type { OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';

/** Socket reads land here; a read takes what the kernel has, up to this. */
const READ_BUFFER_SIZE = 1 << 20;

export class SocketReader {
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  private early: Buffer[] = [];
  private consumer: ((chunk: Buffer) => boolean) | null = null;
  readonly options: OnReadOpts = {
    buffer: this.buffer,
    callback: (length: number, buffer: Uint8Array): boolean => {
      const chunk = (buffer as Buffer).subarray(0, length);
      if (this.consumer) return this.consumer(chunk);
      this.early.push(Buffer.from(chunk));
      return true;
    },
  };

  /** An HTTP/2 stream has no `onread`: its chunks come as 'data', and pause it the same way. */
  feed(stream: Duplex): void {
    stream.on('data', (chunk: Buffer) => {
      if (!this.options.callback(chunk.length, chunk)) stream.pause();
    });
  }

  attach(consumer: (chunk: Buffer) => boolean): void {
    this.consumer = consumer;
    const early = this.early;
    this.early = [];
    for (const chunk of early) consumer(chunk);
  }
}

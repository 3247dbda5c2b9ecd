/**
 * A stub's passed stdout or stderr as the gateway writes the remote command's output to it: opened
 * as a stream only when the command first writes there (most compiler runs print nothing), pieces of
 * one event-loop turn corked into one write (the HTTP/2 stream hands them over in TLS-record-sized
 * pieces, and every write wakes the reader), and closed — never shut down — once written.
 */
import type { Writable } from 'node:stream';
import { closeDescriptors } from '../addon-spawn.js';
import { fdWriter } from './fd-streams.js';

const EMPTY = Buffer.alloc(0);

export class PassedOutput {
  private writer: Writable | null = null;
  private fd: number | null;
  private uncorkScheduled = false;

  constructor(
    fd: number,
    private readonly onError: (error: NodeJS.ErrnoException) => void,
  ) {
    this.fd = fd;
  }

  /** False: wait for `onceDrained` before writing more. */
  write(chunk: Buffer): boolean {
    const writer = this.open();
    if (!writer) return true;
    if (!this.uncorkScheduled) {
      this.uncorkScheduled = true;
      writer.cork();
      setImmediate(() => {
        this.uncorkScheduled = false;
        writer.uncork();
      });
    }
    return writer.write(chunk);
  }

  /** Once it takes more, or never will (closed, broken): the server's stream must not stay paused. */
  onceDrained(callback: () => void): void {
    const writer = this.writer;
    if (!writer || writer.destroyed) return callback();
    const done = (): void => {
      writer.off('drain', done);
      writer.off('close', done);
      callback();
    };
    writer.once('drain', done);
    writer.once('close', done);
  }

  /** Resolves once everything written so far has been handed to the system. */
  written(): Promise<void> {
    const writer = this.writer;
    if (!writer || writer.destroyed || writer.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      writer.once('close', () => resolve());
      writer.write(EMPTY, () => resolve());
      if (this.uncorkScheduled) writer.uncork();
    });
  }

  /** Closes our descriptor once what was written is out (the stub prints after us: no shutdown). */
  release(): void {
    if (this.fd !== null) return this.close();
    const writer = this.writer;
    if (writer && !writer.destroyed) void this.written().then(() => writer.destroy());
  }

  /** At once, written or not (the stub is gone). */
  close(): void {
    if (this.fd !== null) closeDescriptors([this.fd]);
    this.fd = null;
    this.writer?.destroy();
  }

  private open(): Writable | null {
    if (this.writer) return this.writer.destroyed ? null : this.writer;
    if (this.fd === null) return null;
    const fd = this.fd;
    this.fd = null;
    try {
      this.writer = fdWriter(fd);
    } catch (error) {
      closeDescriptors([fd]);
      this.onError(error as NodeJS.ErrnoException);
      return null;
    }
    this.writer.on('error', this.onError);
    return this.writer;
  }
}

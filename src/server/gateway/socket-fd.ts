/**
 * A passed stdin or stdout that is a socket (a test runner's or CI agent's stdio, systemd's): it
 * cannot be reopened as a new description (./fd-streams.ts), and making it non-blocking would make
 * it so for every process sharing it — make's other jobs writing the same stdout would get EAGAIN.
 * So it is read and written one call at a time with MSG_DONTWAIT (native/syscalls/passing.c), and
 * never shut down (that, too, would be for everyone): closed, it is only our descriptor that goes.
 */
import { closeSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { closeDescriptors } from '../addon-spawn.js';
import type { Syscalls } from '../../native/syscalls.js';

const READ_SIZE = 256 * 1024;
/** A full socket is tried again after this long, doubling up to the maximum (no writability watch). */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;

export function socketReader(native: Syscalls, fd: number): Readable {
  let cancel: (() => boolean) | null = null;
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  const reader = new Readable({
    read() {
      pump();
    },
    destroy(error, callback) {
      cancel?.();
      cancel = null;
      closeSync(fd);
      callback(error);
    },
  });
  const pump = (): void => {
    if (reader.destroyed || cancel) return;
    let got: { bytes: number; fds: number[] } | null;
    try {
      got = native.receive(fd, buffer);
    } catch (error) {
      return void reader.destroy(error as Error);
    }
    if (got === null) {
      cancel = native.watch(fd, () => {
        cancel = null;
        pump();
      });
      return;
    }
    // Descriptors someone sent down our stdin are not ours to keep.
    closeDescriptors(got.fds);
    if (got.bytes === 0) reader.push(null);
    else if (reader.push(Buffer.from(buffer.subarray(0, got.bytes)))) pump();
  };
  return reader;
}

export function socketWriter(native: Syscalls, fd: number, highWaterMark: number): Writable {
  let timer: NodeJS.Timeout | null = null;
  const send = (chunk: Buffer, callback: (error?: Error | null) => void): void => {
    let offset = 0;
    let delay = FIRST_RETRY_MS;
    const attempt = (): void => {
      timer = null;
      try {
        while (offset < chunk.length) offset += native.send(fd, chunk.subarray(offset), []);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return callback(error as Error);
        timer = setTimeout(attempt, delay);
        delay = Math.min(delay * 2, MAX_RETRY_MS);
        return;
      }
      callback();
    };
    attempt();
  };
  return new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      send(chunk, callback);
    },
    // Pieces queued meanwhile leave in one send: each send is a syscall and a wake-up of the reader.
    writev(chunks, callback) {
      send(Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer)), callback);
    },
    destroy(error, callback) {
      if (timer) clearTimeout(timer);
      closeSync(fd);
      callback(error);
    },
    final(callback) {
      callback();
    },
  });
}

/**
 * How the relaying client reads fd 0 and sends it, one strategy per kind of descriptor (as undici
 * dispatches a request body to writeStream/writeIterable/...), each with its own teardown:
 * - a terminal, or anything unusual: process.stdin (`stream`);
 * - a pipe or socket: our own socket reading into one reused buffer (`pipe`);
 * - a regular file or a memory device (/dev/null, /dev/zero): plain synchronous reads, which never
 *   block for long (`sync`): every stub call with `< /dev/null` is spared fs.ReadStream and its
 *   module graph;
 * - a closed fd 0: an empty stdin.
 * process.stdin is never touched unless it is the one.
 */
import { fstatSync, readSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { clientDebug } from '../debug.js';
import { DATA_CHUNK_SIZE } from '../protocol/constants.js';

/** Stdin pieces read synchronously (file, /dev/null) before the event loop gets a turn. */
const SYNC_READS_PER_TURN = 16;

export type StdinSource = 'tty' | 'stream' | 'pipe' | 'sync' | 'closed';

/** Where stdin goes: the session's connection. */
export interface StdinTarget {
  /** False once stdin is no longer wanted (ended, closed by the command, session over). */
  readonly open: boolean;
  /** Sends one piece as data frames; false when the connection wants no more for now. */
  send(chunk: Buffer): boolean;
  /** Whether pieces sent are still queued (they may be views of a reused buffer). */
  readonly queued: boolean;
  /** `callback` once everything sent so far has been handed to the system. */
  afterFlush(callback: () => void): void;
  /** `callback` once the connection accepts more (after send() returned false). */
  onceDrained(callback: () => void): void;
  /** Stdin ended (or failed: it is then ended too). */
  end(): void;
}

export interface StdinReader {
  /** Stop reading. `release`: also close fd 0 (a pipe's writer then gets EPIPE, as with a local command). */
  stop(release: boolean): void;
}

export function stdinSource(tty: boolean): StdinSource {
  if (tty) return 'tty';
  try {
    const stat = fstatSync(0);
    if (stat.isFIFO() || stat.isSocket()) return 'pipe';
    if (stat.isFile()) return 'sync';
    if (stat.isCharacterDevice() && ((stat.rdev >> 8) & 0xfff) === 1) return 'sync';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') return 'closed';
  }
  return 'stream';
}

export function readStdin(source: StdinSource, target: StdinTarget): StdinReader {
  switch (source) {
    case 'closed':
      target.end();
      return { stop: () => {} };
    case 'sync':
      return readSyncStdin(target);
    case 'pipe':
      return readPipeStdin(target);
    case 'tty':
    case 'stream':
      return readStreamStdin(target, source === 'tty');
  }
}

function failed(target: StdinTarget, error: NodeJS.ErrnoException): void {
  clientDebug('Process', `stdin: ${error.code ?? error.message}`);
  target.end();
}

/** process.stdin; a terminal is paused, never destroyed (it is the user's). */
function readStreamStdin(target: StdinTarget, terminal: boolean): StdinReader {
  const stdin = process.stdin;
  stdin.on('data', (chunk: Buffer) => {
    if (!target.open) return;
    if (!target.send(chunk)) {
      stdin.pause();
      target.onceDrained(() => target.open && stdin.resume());
    }
  });
  stdin.once('end', () => target.end());
  stdin.on('error', (error: NodeJS.ErrnoException) => failed(target, error));
  return {
    stop(release) {
      stdin.pause();
      if (release && !terminal) stdin.destroy();
    },
  };
}

/** A pipe or socket: read into one reused buffer, and not again while the connection holds bytes of it. */
function readPipeStdin(target: StdinTarget): StdinReader {
  const buffer = Buffer.allocUnsafe(DATA_CHUNK_SIZE);
  // Node honours `onread` in the constructor too (@types/node only lists it for connect()).
  const options: SocketConstructorOpts & { onread: OnReadOpts } = {
    fd: 0,
    readable: true,
    writable: false,
    onread: {
      buffer,
      callback: (length: number): boolean => {
        if (!target.open) return false;
        target.send(buffer.subarray(0, length));
        if (!target.queued) return true;
        target.afterFlush(() => {
          if (target.open) stdin.resume();
        });
        return false;
      },
    },
  };
  const stdin = new Socket(options);
  stdin.once('end', () => target.end());
  stdin.on('error', (error: NodeJS.ErrnoException) => failed(target, error));
  stdin.resume();
  return {
    stop(release) {
      stdin.pause();
      if (release) stdin.destroy();
    },
  };
}

/** A file or a memory device: synchronous reads into one buffer, a few per event-loop turn. */
function readSyncStdin(target: StdinTarget): StdinReader {
  const buffer = Buffer.allocUnsafe(DATA_CHUNK_SIZE);
  const pump = (): void => {
    for (let reads = 0; reads < SYNC_READS_PER_TURN; reads++) {
      if (!target.open) return;
      let length: number;
      try {
        length = readSync(0, buffer, 0, buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(pump, 1);
          return;
        }
        return failed(target, error as NodeJS.ErrnoException);
      }
      if (length === 0) return target.end();
      target.send(buffer.subarray(0, length));
      // The connection still holds bytes of the buffer: read on once they are flushed.
      if (target.queued) return target.afterFlush(pump);
    }
    setImmediate(pump);
  };
  pump();
  // Every turn checks `target.open`: nothing else to stop.
  return { stop: () => {} };
}

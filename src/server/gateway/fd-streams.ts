/**
 * A stub's passed stdin, stdout and stderr as Node streams, for a gateway that relays them to a remote
 * command (docs/remote.md, "Passed descriptors"). Pipes and terminals must be read and written without
 * blocking the event loop, but O_NONBLOCK belongs to the open file description, which the stub's
 * shell and siblings share: such a descriptor is reopened through /proc/self/fd (a new description on
 * the same pipe or terminal) and only that one is made non-blocking. Files and /dev/null never block:
 * they are read and written in place, at the offset the caller shares (`>>` and `{ a; b; } > f` keep
 * working). A socket cannot be reopened: ./socket-fd.ts reads and writes it without changing it.
 */
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  openSync,
  type Stats,
} from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { isatty, ReadStream, WriteStream } from 'node:tty';
import { syscalls } from '../../native/syscalls.js';
import { socketReader, socketWriter } from './socket-fd.js';

/** The chunk size of a file read: large enough for few reads, small enough not to weigh on V8's heap. */
const FILE_READ_SIZE = 64 * 1024;
/**
 * Output queued before the gateway stops reading the server's stream: a 64 KiB pipe is full at every
 * write, and pausing at Node's 16 KiB would stall the stream once per pipe-full (its window updates
 * stop with it).
 */
const OUTPUT_HIGH_WATER = 256 << 10;
/** /dev/null: makedev(1, 3). */
const DEV_NULL = 259;

type Kind = 'pipe' | 'tty' | 'socket' | 'null' | 'file';

function kind(fd: number): { kind: Kind; stat: Stats } {
  const stat = fstatSync(fd);
  if (stat.isFIFO()) return { kind: 'pipe', stat };
  if (stat.isSocket()) return { kind: 'socket', stat };
  if (stat.isCharacterDevice() && stat.rdev === DEV_NULL) return { kind: 'null', stat };
  if (stat.isCharacterDevice() && isatty(fd)) return { kind: 'tty', stat };
  return { kind: 'file', stat };
}

/** A new description of the same pipe or terminal, or null (then the descriptor is used as it is). */
function reopen(fd: number, flags: number): number | null {
  try {
    return openSync(`/proc/self/fd/${fd}`, flags | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return null;
  }
}

/**
 * Takes ownership of `fd` (closed with the stream). Null for /dev/null, the commonest stdin of a
 * build (`-n`, make's jobs, CI): at its end before anything is read, with no stream to make.
 */
export function fdReader(fd: number): Readable | null {
  const { kind: type } = kind(fd);
  if (type === 'null') {
    closeSync(fd);
    return null;
  }
  if (type === 'pipe' || type === 'tty') {
    const own = reopen(fd, constants.O_RDONLY);
    if (own !== null) {
      closeSync(fd);
      return type === 'tty' ? new ReadStream(own) : new Socket({ fd: own, readable: true, writable: false });
    }
  }
  const native = type === 'socket' ? syscalls() : null;
  if (native) return socketReader(native, fd);
  return createReadStream('', { fd, autoClose: true, highWaterMark: FILE_READ_SIZE });
}

/** Takes ownership of `fd` (closed with the stream: destroy it, never end it, once written). */
export function fdWriter(fd: number): Writable {
  const { kind: type } = kind(fd);
  if (type === 'pipe' || type === 'tty') {
    const own = reopen(fd, constants.O_WRONLY);
    if (own !== null) {
      closeSync(fd);
      return type === 'tty'
        ? new WriteStream(own)
        : // Duplex options reach the stream; @types/node lists only the socket's own.
          new Socket({
            fd: own,
            readable: false,
            writable: true,
            writableHighWaterMark: OUTPUT_HIGH_WATER,
          } as SocketConstructorOpts);
    }
  }
  const native = type === 'socket' ? syscalls() : null;
  if (native) return socketWriter(native, fd, OUTPUT_HIGH_WATER);
  return createWriteStream('', { fd, autoClose: true, highWaterMark: OUTPUT_HIGH_WATER });
}

/**
 * The local socket (docs/protocol.md, "Passed descriptors"): beside 127.0.0.1:port, the server
 * listens on an abstract AF_UNIX name, shared by the containers of a Pod like the loopback interface.
 * A client there passes its stdin, stdout and stderr with its first bytes (SCM_RIGHTS), and the
 * command runs on them: its output goes straight to the client's stdout, no byte is relayed.
 *
 * The first bytes are read with recvmsg (native/syscalls) before Node reads the socket (which would
 * drop the descriptors). Node has no "readable" event for a socket it does not read, so the addon
 * watches it (a libuv poll handle, native/syscalls/watch.c): recvmsg is tried at accept, then once
 * each time the socket turns readable or hangs up. It used to be polled every millisecond, and
 * each millisecond of poll interval was a millisecond added to every stub call.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { localSocketPath } from '../protocol/constants.js';
import { syscalls, syscallsFailure, type Syscalls, type Readiness } from '../native/syscalls.js';
import { closeDescriptors } from './addon-spawn.js';
import type { FirstMessage } from './connection.js';

/** Every first read lands here and is copied out at once: one buffer serves all connections. */
const firstRead = Buffer.allocUnsafe(64 * 1024);

/**
 * Listening, or why not: `taken` when another process holds the name (the caller fails: stubs would
 * talk to that process), `missing` otherwise (logged by the caller once the TCP port is bound).
 */
export type LocalListener =
  | { server: Server; missing?: undefined; taken?: undefined }
  | { server: null; missing: { level: 'info' | 'warn'; detail: Record<string, unknown> }; taken?: undefined }
  | { server: null; missing?: undefined; taken: string };

/**
 * Listen on the local socket of `port`; `onConnection` gets each connection `accept` admitted, with
 * its first bytes and descriptors (one that sends nothing in time is dropped). Without a local
 * socket (no addon, name taken) the result says why.
 */
export async function listenLocal(
  port: number,
  timeoutMs: number,
  accept: (socket: Socket) => boolean,
  onConnection: (socket: Socket, first: FirstMessage) => void,
  log: Logger,
): Promise<LocalListener> {
  const native = syscalls();
  if (!native) return { server: null, missing: { level: 'info', detail: { reason: syscallsFailure() } } };
  const path = localSocketPath(port);
  // Half-open, as the TCP listener (./server.ts): a half-closed client still gets its exit code.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    if (!accept(socket)) return;
    readFirst(native, socket, timeoutMs, (first) => {
      if (first) onConnection(socket, first);
      else socket.destroy();
    });
  });
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? { server: null, taken: error.code }
          : {
              server: null,
              missing: { level: 'warn', detail: { path: path.replace('\0', '@'), err: error.code } },
            },
      ),
    );
    server.listen({ path, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', (error) => log.error({ err: error.message }, 'local socket error'));
      resolve({ server });
    });
  });
}

/**
 * The first bytes and descriptors; null when the peer left, sent nothing in time, recvmsg failed, or
 * the socket was closed meanwhile. `done` is called once, with no watch left behind.
 */
function readFirst(
  native: Syscalls,
  socket: Socket,
  timeoutMs: number,
  done: (first: FirstMessage | null) => void,
): void {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return done(null);
  // Usually the bytes are there at accept (a stub sends right after connecting): then no timer, no
  // close listener and no watch are made for this connection at all.
  const now = tryReceive(native, fd);
  if (now !== undefined) return done(now);
  let cancel: (() => boolean) | null = null;
  let finished = false;
  const finish = (first: FirstMessage | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('close', closed);
    // The watch holds a duplicate of the socket: it must go before the socket is closed.
    cancel?.();
    done(first);
  };
  // Closed by someone else: the watch's duplicate would keep it open for the peer.
  const closed = (): void => finish(null);
  const timer = setTimeout(() => finish(null), timeoutMs);
  socket.once('close', closed);
  const wait = (): void => {
    try {
      cancel = native.watch(fd, (readiness: Readiness) => {
        cancel = null;
        if (socket.destroyed || readiness.error) return finish(null);
        const first = tryReceive(native, fd);
        // Nothing yet (a spurious wake-up): wait for the next readiness.
        if (first === undefined) wait();
        else finish(first);
      });
    } catch {
      finish(null);
    }
  };
  wait();
}

/**
 * One recvmsg: the first bytes and descriptors; null when the peer left (closing what it sent) or
 * recvmsg failed; undefined when nothing has arrived yet.
 */
function tryReceive(native: Syscalls, fd: number): FirstMessage | null | undefined {
  let first: { bytes: number; fds: number[] } | null;
  try {
    first = native.receive(fd, firstRead);
  } catch {
    return null;
  }
  if (first === null) return undefined;
  if (first.bytes === 0) {
    closeDescriptors(first.fds);
    return null;
  }
  return { bytes: Buffer.from(firstRead.subarray(0, first.bytes)), fds: first.fds };
}

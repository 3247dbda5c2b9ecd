/**
 * Clients that Node would not see go (docs/security.md, "A client that goes away"). Node learns that
 * a peer left by reading its socket; two kinds of session do not read:
 * - stdin backs up (the command does not read it): the socket is paused, the client's unsent stdin
 *   fills the TCP window, and its FIN waits behind that data forever; a `kill -9`ed stub left
 *   `sleep 300 </dev/zero` running with four descriptors held;
 * - the client half-closed (shutdown(SHUT_WR), as an original client may): it must still get its
 *   output and exit code, so the end of its data is not the end of the session, and a peer that
 *   then closes for good sends nothing more to say so.
 * Those sessions are checked every CHECK_MS, one timer for all: gone is a socket that polls HUP or
 * ERR (a closed local socket, a reset TCP connection: native/syscalls/sockets.c `hungup`), or a TCP
 * peer whose socket no process holds any more. The peer is on loopback (the server listens on
 * 127.0.0.1), so its socket is in this network namespace's /proc/net/tcp: missing, or with inode 0
 * (orphaned: its last descriptor was closed, by exit or kill), it is gone; half-closed and alive, it
 * still has its inode.
 */
import type { Socket } from 'node:net';
import { syscalls } from '../native/syscalls.js';
import { endpoints, tcpSockets } from '../runtime/proc-net.js';

export const CHECK_MS = 500;

export class PeerWatch {
  private readonly watched = new Map<Socket, () => void>();
  private timer: NodeJS.Timeout | null = null;

  /** `gone` is called once, when the peer of `socket` is found gone (and it is no longer watched). */
  watch(socket: Socket, gone: () => void): void {
    this.watched.set(socket, gone);
    this.timer ??= setInterval(() => this.check(), CHECK_MS).unref();
  }

  unwatch(socket: Socket): void {
    this.watched.delete(socket);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private check(): void {
    const native = syscalls();
    let alive: Set<string> | undefined;
    for (const [socket, gone] of [...this.watched]) {
      const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
      const hungUp = typeof fd !== 'number' || fd < 0 || (native?.hungUp(fd) ?? false);
      const keys = peerKeys(socket);
      if (hungUp || (keys.length > 0 && !keys.some((key) => (alive ??= livePeers()).has(key)))) {
        this.unwatch(socket);
        gone();
      }
    }
  }
}

/**
 * The client's end of our connection as /proc/net/tcp{,6} may list it: its local address is our
 * remote one and the other way round (src/runtime/proc-net.ts); none for a local (AF_UNIX) socket.
 */
function peerKeys(socket: Socket): string[] {
  const theirs = endpoints(socket.remoteAddress, socket.remotePort);
  const ours = endpoints(socket.localAddress, socket.localPort);
  return theirs.map((endpoint, i) => `${endpoint} ${ours[i]}`);
}

/** `local remote` of every TCP socket that a process still holds (inode not 0). */
function livePeers(): Set<string> {
  return new Set(
    tcpSockets()
      .filter((socket) => socket.inode !== 0)
      .map((socket) => `${socket.local} ${socket.remote}`),
  );
}

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
 * ERR (a closed local socket, a reset TCP connection: native/fdpass/fdpass.c `hungup`), or a TCP
 * peer whose socket no process holds any more. The peer is on loopback (the server listens on
 * 127.0.0.1), so its socket is in this network namespace's /proc/net/tcp: missing, or with inode 0
 * (orphaned: its last descriptor was closed, by exit or kill), it is gone; half-closed and alive, it
 * still has its inode.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fdpass } from '../native/fdpass.js';

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
    const native = fdpass();
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
 * How /proc/net/tcp{,6} may name the client's end of our connection: its local address (our remote)
 * and its remote address (our local), in the kernel's hex (each 32-bit word of an address in host
 * order: little-endian on every architecture we build for). A client on an IPv6 socket that reached
 * 127.0.0.1 is listed in tcp6 with IPv4-mapped addresses: both forms are asked. None for a local
 * (AF_UNIX) socket.
 */
function peerKeys(socket: Socket): string[] {
  const remote = ipv4Words(socket.remoteAddress);
  const local = ipv4Words(socket.localAddress);
  if (!remote || !local || !socket.remotePort || !socket.localPort) return [];
  const [theirs, ours] = [hexPort(socket.remotePort), hexPort(socket.localPort)];
  const mapped = (word: string): string => `0000000000000000FFFF0000${word}`;
  return [`${remote}:${theirs} ${local}:${ours}`, `${mapped(remote)}:${theirs} ${mapped(local)}:${ours}`];
}

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/** An IPv4 address (or IPv4-mapped IPv6) as /proc/net/tcp writes it: 127.0.0.1 is 0100007F. */
function ipv4Words(address: string | undefined): string | undefined {
  const v4 = address && /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (!v4) return undefined;
  return [4, 3, 2, 1].map((i) => Number(v4[i]).toString(16).toUpperCase().padStart(2, '0')).join('');
}

/** `local remote` of every TCP socket that a process still holds (inode not 0), v4 and v6. */
function livePeers(): Set<string> {
  const alive = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      // No IPv6 (or no /proc): nothing of ours is listed there.
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode
      if (fields.length > 9 && fields[9] !== '0') alive.add(`${fields[1]} ${fields[2]}`);
    }
  }
  return alive;
}

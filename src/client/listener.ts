/**
 * Whose listener a client reached, checked before a byte is sent (docs/security.md, "Whose
 * listener"). Any process of the Pod may bind the abstract name `\0k8psh-PORT` or the port before
 * the server does (no permission guards either), and would then receive a stub's arguments,
 * variables and stdin/stdout/stderr. The kernel says which uid made the listener: SO_PEERCRED on the
 * local socket, the uid of the accepted socket in /proc/net/tcp over TCP. A client talks only to a
 * listener of its own uid, of root, or of the uid the server's section names with `--server-uid`.
 */
import type { Socket } from 'node:net';
import { ConnectionError } from '../errors.js';
import { endpoints, tcpSockets } from '../runtime/proc-net.js';

export interface ListenerTrust {
  serverName: string;
  /** From the section's `--server-uid` (HostConfig.serverUid). */
  serverUid: number | undefined;
}

/** Throws the refusal when `uid` (undefined: unknown) is none of the trusted ones. */
export function checkListener(uid: number | undefined, where: string, trust: ListenerTrust): void {
  const own = process.geteuid?.();
  if (uid !== undefined && (uid === own || uid === 0 || uid === trust.serverUid)) return;
  const trusted = [own !== undefined && own !== 0 ? `uid ${own} (you)` : undefined, 'root'];
  trusted.push(
    trust.serverUid === undefined
      ? `the uid --server-uid names on its section line`
      : `uid ${trust.serverUid} (--server-uid)`,
  );
  const who = uid === undefined ? 'a uid the kernel does not tell' : `uid ${uid}`;
  throw new ConnectionError(
    `refusing server ${trust.serverName} at ${where}: the listener there runs as ${who}; trusted are ${listed(trusted.filter((t) => t !== undefined))}`,
  );
}

/** The uid that accepted a connected TCP socket of ours: the server-side entry of /proc/net/tcp. */
export function tcpListenerUid(socket: Socket): number | undefined {
  const theirs = endpoints(socket.remoteAddress, socket.remotePort);
  const ours = endpoints(socket.localAddress, socket.localPort);
  // Not yet accepted, the server's socket has no inode, but already its listener's uid.
  return tcpSockets().find((entry) => theirs.includes(entry.local) && ours.includes(entry.remote))?.uid;
}

function listed(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

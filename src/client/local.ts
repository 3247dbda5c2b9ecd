/**
 * The local socket (docs/protocol.md, "Passed descriptors"): a client that can connect to its
 * server's abstract AF_UNIX name passes its stdin, stdout and stderr with the request, and the remote
 * command reads and writes them itself, as a local command would: no byte goes through this process.
 *
 * Anything missing (the addon, the socket: an original k8psh server, another network namespace), a
 * terminal on fd 0-2 or `K8PSH_DIRECT_STDIO=0` means the caller relays the streams over TCP.
 */
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { isatty } from 'node:tty';
import { clientDebug } from '../debug.js';
import { fdpass, fdpassFailure } from '../native/fdpass.js';
import { localSocketPath, PASSED_FD_COUNT } from '../protocol/constants.js';

const STDIO = Array.from({ length: PASSED_FD_COUNT }, (_, fd) => fd);

/**
 * Not for a terminal, even with terminal mode off: a terminal belongs to the client's session (job
 * control, its modes), and a remote command would change its modes with nobody to restore them.
 * Terminal sessions relay (or use terminal mode); speed matters for pipes and files.
 */
export function directStdioWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.K8PSH_DIRECT_STDIO !== '0' && !STDIO.some((fd) => isatty(fd));
}

/** Connected, with `request` and our stdio sent; null when this is not possible (nothing was sent). */
export async function connectLocal(
  port: number,
  request: Buffer,
  onread: OnReadOpts,
): Promise<Socket | null> {
  // The addon loads while the connection is under way.
  const connecting = new Promise<Socket | null>((resolve) => {
    const candidate = netConnect({ path: localSocketPath(port), onread });
    candidate.once('error', (error: NodeJS.ErrnoException) => {
      clientDebug('Socket', `no local socket for port ${port} (${error.code ?? error.message})`);
      candidate.destroy();
      resolve(null);
    });
    candidate.once('connect', () => {
      candidate.removeAllListeners('error');
      resolve(candidate);
    });
  });
  const native = fdpass();
  const socket = await connecting;
  if (!native) {
    clientDebug('Socket', `no descriptor passing: ${fdpassFailure()}`);
    socket?.destroy();
    return null;
  }
  if (!socket) return null;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  let sent: number;
  try {
    if (typeof fd !== 'number' || fd < 0) throw new Error('no descriptor for the local socket');
    sent = native.send(fd, request, STDIO);
  } catch (error) {
    clientDebug('Socket', `passing stdio failed: ${(error as Error).message}`);
    socket.destroy();
    return null;
  }
  // The descriptors went with the first byte; the rest of a large request follows as usual.
  if (sent < request.length) socket.write(request.subarray(sent));
  return socket;
}

/**
 * Connect to 127.0.0.1:port, retrying with doubling back-off (16 ms → 1 s)
 * until the deadline, so that a stub may run before its server is up; then make sure the listener
 * is one we trust before anything is sent.
 */
import { connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { clientDebug } from '../debug.js';
import { ConnectionError } from '../errors.js';
import { checkListener, tcpListenerUid } from './listener.js';
import type { RemoteTarget } from './outcome.js';

const FIRST_DELAY_MS = 16;
const MAX_DELAY_MS = 1000;
/** Containers of a Pod share the loopback interface. */
export const SERVER_HOST = '127.0.0.1';

/**
 * `onread` (optional) makes the socket read into the caller's buffer instead of allocating one per
 * read and emitting 'data' (see RemoteSession).
 */
export async function connectWithRetry(target: RemoteTarget, onread?: OnReadOpts): Promise<Socket> {
  const { port, connectTimeoutMs: timeoutMs, serverName } = target;
  const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    let socket: Socket;
    try {
      socket = await attempt(port, onread);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      const left = deadline - Date.now();
      clientDebug('Socket', `connect to ${SERVER_HOST}:${port} failed (${code}), ${left} ms left`);
      if (left <= 0)
        throw new ConnectionError(
          `cannot connect to server ${serverName} at ${SERVER_HOST}:${port} (${code}) after ${timeoutMs} ms`,
        );
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      continue;
    }
    try {
      // Nothing is sent to a listener of a uid we do not trust (./listener.ts).
      checkListener(tcpListenerUid(socket), `${SERVER_HOST}:${port}`, target);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return socket;
  }
}

/**
 * The Pod's gateway for a remote section (docs/remote.md): one try at 127.0.0.1:port, null when
 * nothing listens there (then the client connects to the remote server itself).
 */
export async function connectGateway(target: RemoteTarget, onread?: OnReadOpts): Promise<Socket | null> {
  let socket: Socket;
  try {
    socket = await attempt(target.port, onread);
  } catch (error) {
    clientDebug(
      'Socket',
      `no gateway at ${SERVER_HOST}:${target.port} (${(error as NodeJS.ErrnoException).code})`,
    );
    return null;
  }
  try {
    checkListener(tcpListenerUid(socket), `${SERVER_HOST}:${target.port}`, target);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}

function attempt(port: number, onread: OnReadOpts | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: SERVER_HOST, port, noDelay: true, ...(onread ? { onread } : {}) });
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A remote section reached without a gateway (docs/remote.md, "Without a gateway"): one HTTP/2
 * session over mutual TLS 1.3 made for this one call, one stream on it. Slower than the gateway (a
 * handshake per call) but needs nothing running in the Pod. Loaded only for a remote section.
 */
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { formatHostPort } from '../config/address.js';
import type { RemoteSection } from '../config/model.js';
import { clientDebug } from '../debug.js';
import { ConnectionError } from '../errors.js';
import { SESSION_PATH, SESSION_WINDOW } from '../remote/constants.js';
import { connectSession } from '../remote/connect.js';
import { loadTlsMaterial } from '../remote/material.js';
import { describeTlsError, refusalIn } from '../remote/tls-errors.js';

const FIRST_DELAY_MS = 16;
const MAX_DELAY_MS = 1000;
/** Worth another try before the deadline: the server may not be up yet. */
const RETRIED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET']);

export interface RemoteStream {
  stream: ClientHttp2Stream;
  /** Ends the session once the stream is done (the process exits soon after anyway). */
  close(): void;
}

export async function openRemoteStream(
  serverName: string,
  remote: RemoteSection,
  connectTimeoutMs: number,
): Promise<RemoteStream> {
  const where = `server ${serverName} at ${formatHostPort(remote)}`;
  let material;
  try {
    material = loadTlsMaterial(remote.tlsDirectory);
  } catch (error) {
    throw new ConnectionError(`cannot connect to ${where}: ${(error as Error).message}`);
  }
  const deadline = connectTimeoutMs < 0 ? Infinity : Date.now() + connectTimeoutMs;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    const result = await attempt(remote, material);
    if ('session' in result) {
      const { session } = result;
      const stream = session.request({ ':method': 'POST', ':path': SESSION_PATH }, { endStream: false });
      stream.once('close', () => session.close());
      return { stream, close: () => session.close() };
    }
    const left = deadline - Date.now();
    clientDebug('Socket', `connect to ${formatHostPort(remote)} failed (${result.problem}), ${left} ms left`);
    if (!result.retry || left <= 0)
      throw new ConnectionError(`cannot connect to ${where}: ${result.problem}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}

type Attempt = { session: ClientHttp2Session } | { problem: string; retry: boolean };

function attempt(remote: RemoteSection, material: ReturnType<typeof loadTlsMaterial>): Promise<Attempt> {
  return new Promise((resolve) => {
    const session = connectSession(remote, material);
    let settled = false;
    const fail = (problem: string, retry: boolean): void => {
      if (settled) return;
      settled = true;
      session.destroy();
      resolve({ problem, retry });
    };
    session.once('error', (error: NodeJS.ErrnoException) =>
      fail(describeTlsError(error), RETRIED.has(error.code ?? '')),
    );
    // A server that refused our certificate says why in its GOAWAY, right after the handshake.
    session.once('goaway', (_code: number, _last: number, data?: Buffer) =>
      fail(refusalIn(data) ?? 'the server closed the connection', false),
    );
    session.once('close', () => fail('the server closed the connection', false));
    session.once('connect', () => {
      session.setLocalWindowSize(SESSION_WINDOW);
      // The refusal comes right behind the server's SETTINGS (as ../server/gateway/upstream.ts
      // waits for it): a stream opened before it is read would only see the connection close.
      session.once('remoteSettings', () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          resolve({ session });
        }),
      );
    });
  });
}

/**
 * Dead-peer detection on an HTTP/2 session: a peer whose node vanished sends no FIN or RST, and TCP
 * would wait for minutes. A PING every few seconds that goes unanswered ends the session, and with it
 * every stream on it: the server ends their commands, the gateway tells their stubs (exit 255).
 */
import type { Http2Session } from 'node:http2';
import { PING_INTERVAL_MS, PING_TIMEOUT_MS } from './constants.js';

export function keepAlive(session: Http2Session, onDead: () => void): void {
  let waiting: NodeJS.Timeout | null = null;
  const timer = setInterval(() => {
    if (waiting || session.destroyed) return;
    waiting = setTimeout(() => {
      clearInterval(timer);
      onDead();
    }, PING_TIMEOUT_MS);
    waiting.unref();
    try {
      session.ping((error) => {
        if (waiting) clearTimeout(waiting);
        waiting = null;
        if (error && !session.destroyed) onDead();
      });
    } catch {
      // Closing already: 'close' ends it.
    }
  }, PING_INTERVAL_MS);
  timer.unref();
  session.once('close', () => {
    clearInterval(timer);
    if (waiting) clearTimeout(waiting);
  });
}

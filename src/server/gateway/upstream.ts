/**
 * A gateway's connection to one remote section's server (docs/remote.md): one HTTP/2 session over
 * mutual TLS 1.3, made at start and kept made, so that no session pays a handshake. It is made again
 * in the background when lost (back-off 100 ms to 5 s) and when the TLS directory rotates (the old
 * session finishes its streams: running sessions are untouched).
 */
import { constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import { formatHostPort } from '../../config/address.js';
import type { RemoteSection } from '../../config/model.js';
import { SESSION_PATH, SESSION_WINDOW } from '../../remote/constants.js';
import { connectSession } from '../../remote/connect.js';
import { keepAlive } from '../../remote/keepalive.js';
import { loadTlsMaterial, watchTlsMaterial, type TlsMaterial } from '../../remote/material.js';
import { describeTlsError, refusalIn } from '../../remote/tls-errors.js';

/** Failures a later attempt may not meet: sessions keep waiting for the connection (up to connectTimeoutMs). */
const RETRIED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
/** A server that refused our certificate is asked again no sooner than this. */
const REFUSED_RETRY_MS = 1000;

export class Upstream {
  private session: ClientHttp2Session | null = null;
  private connecting: ClientHttp2Session | null = null;
  private material: TlsMaterial | null = null;
  private lastError = 'not connected yet';
  /** Why the server last refused our certificate; cleared when our TLS material changes. */
  private refusal: string | null = null;
  private readonly refused = new WeakSet<ClientHttp2Session>();
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private stopWatching: (() => void) | null = null;
  private closed = false;
  readonly where: string;

  constructor(
    private readonly name: string,
    private readonly remote: RemoteSection,
    private readonly log: Logger,
    /** How long a session waits for a connection before it is refused (the config's connectTimeoutMs). */
    private readonly connectTimeoutMs: number,
  ) {
    this.where = formatHostPort(remote);
  }

  /** Connects now; the material is read first, so a missing file is an error at start (exit 1). */
  start(): void {
    this.material = loadTlsMaterial(this.remote.tlsDirectory);
    this.stopWatching = watchTlsMaterial(
      this.remote.tlsDirectory,
      this.material,
      (material) => {
        this.material = material;
        this.refusal = null;
        this.retryMs = FIRST_RETRY_MS;
        this.log.info(
          { server: this.name, directory: this.remote.tlsDirectory },
          'TLS material changed: reconnecting',
        );
        this.connect();
      },
      (message) => this.log.warn({ server: this.name, problem: message }, 'TLS material not reloaded'),
    );
    this.connect();
  }

  close(): void {
    this.closed = true;
    this.stopWatching?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.connecting?.destroy();
    this.session?.close();
  }

  /** A new stream for one k8psh session, or the one-line reason there is none (the stub exits 255). */
  async open(): Promise<ClientHttp2Stream | string> {
    if (!this.usable(this.session)) await this.ready();
    const session = this.session;
    if (!session || !this.usable(session))
      return `cannot reach server ${this.name} at ${this.where}: ${this.lastError}`;
    try {
      return session.request({ ':method': 'POST', ':path': SESSION_PATH }, { endStream: false });
    } catch (error) {
      return `cannot reach server ${this.name} at ${this.where}: ${(error as Error).message}`;
    }
  }

  private usable(session: ClientHttp2Session | null): session is ClientHttp2Session {
    return session !== null && !session.closed && !session.destroyed;
  }

  /** Resolves when a session is made or the wait is over, whichever comes first. */
  private ready(): Promise<void> {
    if (this.retryTimer && !this.connecting) {
      // Waiting out a back-off: a session is wanted now, try at once.
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
    return new Promise((resolve) => {
      // connectTimeoutMs, as a client waits for a Pod-local server that is not up yet (negative: no end).
      const wait = this.connectTimeoutMs;
      const timer = wait < 0 ? undefined : setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private connect(): void {
    if (this.closed || !this.material) return;
    this.connecting?.destroy();
    const session = connectSession(this.remote, this.material);
    this.connecting = session;
    this.watchSession(session);
    session.on('error', (error: NodeJS.ErrnoException) => {
      // The refusal's own reason stays the one to tell (its session then closes with an error code).
      if (this.refused.has(session)) return;
      this.lastError = describeTlsError(error);
      // A server not up yet (or its Service not in DNS yet) is waited for, as a client waits for a
      // Pod-local one; a certificate problem will not go away: the sessions waiting hear it now.
      if (!RETRIED.has(error.code ?? '')) this.wake();
      this.log.warn(
        { server: this.name, at: this.where, problem: this.lastError },
        'connection to the server failed',
      );
    });
    // Usable once the server's SETTINGS are in: a server refusing our certificate sends its GOAWAY
    // right behind them, and a session handed out before that would lose its stream for no stated reason.
    session.once('remoteSettings', () => setImmediate(() => this.established(session)));
  }

  private established(session: ClientHttp2Session): void {
    if (this.connecting !== session || session.closed || session.destroyed) return;
    this.connecting = null;
    if (this.refusal === null) this.retryMs = FIRST_RETRY_MS;
    session.setLocalWindowSize(SESSION_WINDOW);
    keepAlive(session, () => {
      this.lastError = 'the server stopped answering';
      session.destroy();
    });
    const old = this.session;
    this.session = session;
    // Its running streams finish on it; new ones go to the new session.
    old?.close();
    this.log.info({ server: this.name, at: this.where }, 'connected to the server');
    this.wake();
  }

  private watchSession(session: ClientHttp2Session): void {
    session.once('goaway', (code: number, _last: number, data?: Buffer) => {
      const refusal = refusalIn(data);
      if (refusal) {
        // Refused for our certificate: no stream may go there, and asking again at once is no use.
        this.refusal = refusal;
        this.refused.add(session);
        this.lastError = refusal;
        this.retryMs = Math.max(this.retryMs, REFUSED_RETRY_MS);
        this.log.warn({ server: this.name, at: this.where, problem: refusal }, 'the server refused us');
        // Nor may the session made with the material before ours (a rotation): new sessions use the
        // current material or fail with its reason. Its running streams finish.
        const current = this.session;
        this.session = null;
        if (current !== session) current?.close();
        this.wake();
        return;
      }
      if (code !== h2.NGHTTP2_NO_ERROR)
        this.lastError = `the server ended the connection (HTTP/2 error ${code})`;
      if (this.session === session) this.reconnectSoon(0);
    });
    session.once('close', () => {
      if (this.connecting === session) this.connecting = null;
      if (this.session === session) this.session = null;
      if (this.session === null && this.connecting === null) this.reconnectSoon(this.retryMs);
    });
  }

  private reconnectSoon(delay: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

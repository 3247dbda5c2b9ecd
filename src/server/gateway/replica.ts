/**
 * The gateway's connection to one replica of a remote section (one address its --remote name
 * resolves to; docs/cluster.md): one HTTP/2 session over mutual TLS 1.3, made at start and kept made,
 * so that no session pays a handshake. It is made again in the background when lost (back-off 100 ms
 * to 5 s) and when the TLS material rotates (the old session finishes its streams). A replica that
 * says GOAWAY (it drains) gets no new stream; one that refused our certificate says why.
 */
import {
  constants as h2,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2Session,
} from 'node:http2';
import type { Logger } from 'pino';
import { formatHostPort } from '../../config/address.js';
import type { RemoteSection } from '../../config/model.js';
import {
  CONFIRM_HEADER,
  CONFIRM_SETTING,
  CONFIRM_VALUE,
  SESSION_PATH,
  SESSION_WINDOW,
} from '../../remote/constants.js';
import { connectSession } from '../../remote/connect.js';
import { keepAlive } from '../../remote/keepalive.js';
import type { TlsMaterial } from '../../remote/material.js';
import { describeTlsError, refusalIn } from '../../remote/tls-errors.js';

/** Failures a later attempt may not meet: sessions wait for the connection (up to connectTimeoutMs). */
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

export interface ReplicaEvents {
  /** Connected, or lost its connection: the placement may change. */
  changed(): void;
  /** A failure worth looking at again (re-resolving the name): a refused or lost connection. */
  failed(): void;
}

export class Replica {
  /** Sessions of ours running on it, what placement compares. */
  running = 0;
  /**
   * It confirms starts (its SETTINGS said so, its answers echo CONFIRM_HEADER): a session not given
   * START_READY has not run there.
   */
  confirms = false;
  /** A problem no retry will cure (a certificate refused): told at once rather than waited out. */
  fatal: string | null = null;
  lastError = 'not connected yet';
  readonly where: string;
  private session: ClientHttp2Session | null = null;
  private connecting: ClientHttp2Session | null = null;
  private readonly refused = new WeakSet<ClientHttp2Session>();
  /** Why a connection ended, when it said (an error, a dead peer, a GOAWAY). */
  private readonly reasons = new WeakMap<Http2Session, string>();
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly address: string,
    private readonly remote: RemoteSection,
    private material: TlsMaterial,
    private readonly events: ReplicaEvents,
    private readonly log: Logger,
  ) {
    this.where = formatHostPort({ host: address, port: remote.port });
  }

  /** Established and not draining: new sessions may go here. */
  get usable(): boolean {
    const session = this.session;
    return session !== null && !session.closed && !session.destroyed;
  }

  /** Waiting out a back-off while a session wants a connection: try at once. */
  hurry(): void {
    if (!this.retryTimer || this.connecting) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** New material (the Secret rotated): a new session, the old one finishing its streams. */
  rotate(material: TlsMaterial): void {
    this.material = material;
    this.fatal = null;
    this.retryMs = FIRST_RETRY_MS;
    this.connect();
  }

  /**
   * A stream for one k8psh session, counted in `running` until it closes; throws when the session
   * cannot take one (closing: a GOAWAY came in between).
   */
  open(): ClientHttp2Stream {
    const stream = this.session!.request(
      { ':method': 'POST', ':path': SESSION_PATH, [CONFIRM_HEADER]: CONFIRM_VALUE },
      { endStream: false },
    );
    this.running++;
    stream.once('close', () => {
      this.running--;
      this.events.changed();
    });
    return stream;
  }

  /** Why `session` (one of ours) ended, in a user's words. */
  reasonFor(session: Http2Session): string {
    return this.reasons.get(session) ?? 'the server closed the connection';
  }

  /** Gone from the name's addresses (or the gateway stops): running streams finish, nothing new. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.connecting?.destroy();
    this.session?.close();
    this.session = null;
  }

  connect(): void {
    if (this.closed) return;
    this.connecting?.destroy();
    const session = connectSession({ ...this.remote, host: this.address }, this.material);
    this.connecting = session;
    this.watch(session);
    session.on('error', (error: NodeJS.ErrnoException) => {
      // The refusal's own reason stays the one to tell (its session then closes with an error code).
      if (this.refused.has(session)) return;
      this.lastError = describeTlsError(error);
      this.reasons.set(session, this.lastError);
      // A server not up yet is waited for; a certificate problem will not go away.
      if (!RETRIED.has(error.code ?? '')) this.fatal = this.lastError;
      this.log.warn({ at: this.where, problem: this.lastError }, 'connection to the server failed');
      this.events.failed();
    });
    // Usable once the server's SETTINGS are in: a server refusing our certificate sends its GOAWAY
    // right behind them, and a stream handed out before that would be lost for no stated reason.
    session.once('remoteSettings', () => setImmediate(() => this.established(session)));
  }

  private established(session: ClientHttp2Session): void {
    if (this.connecting !== session || session.closed || session.destroyed) return;
    this.connecting = null;
    if (!this.refused.has(session)) {
      this.retryMs = FIRST_RETRY_MS;
      this.fatal = null;
    }
    // Known before any stream from its SETTINGS; each answer's echo says it again (relay.ts).
    this.confirms = session.remoteSettings.customSettings?.[CONFIRM_SETTING] === 1;
    session.setLocalWindowSize(SESSION_WINDOW);
    keepAlive(session, () => {
      this.lastError = 'the server stopped answering';
      this.reasons.set(session, this.lastError);
      session.destroy();
    });
    const old = this.session;
    this.session = session;
    // Its running streams finish on it; new ones go to the new session.
    old?.close();
    this.log.info({ at: this.where }, 'connected to the server');
    this.events.changed();
  }

  private watch(session: ClientHttp2Session): void {
    session.once('goaway', (code: number, _last: number, data?: Buffer) => {
      const refusal = refusalIn(data);
      if (refusal) {
        // Refused for our certificate: no stream may go there, and asking again at once is no use.
        this.refused.add(session);
        this.fatal = this.lastError = refusal;
        this.reasons.set(session, refusal);
        this.retryMs = Math.max(this.retryMs, REFUSED_RETRY_MS);
        this.log.warn({ at: this.where, problem: refusal }, 'the server refused us');
        // Nor may the session made with the material before ours (a rotation): its streams finish.
        const current = this.session;
        this.session = null;
        if (current !== session) current?.close();
        this.events.changed();
        return;
      }
      this.lastError =
        code === h2.NGHTTP2_NO_ERROR
          ? 'the server is shutting down'
          : `the server ended the connection (HTTP/2 error ${code})`;
      this.reasons.set(session, this.lastError);
      // Draining (or ending): its running streams finish, new ones go elsewhere. A new connection
      // is tried, and is refused while it drains.
      if (this.session === session) {
        this.session = null;
        this.events.changed();
        this.reconnectSoon(0);
      }
    });
    session.once('close', () => {
      if (this.connecting === session) this.connecting = null;
      if (this.session === session) {
        this.session = null;
        // failed() wakes the waiting sessions too.
        this.events.failed();
      }
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

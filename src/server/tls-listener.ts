/**
 * The server's listeners beyond the Pod (docs/remote.md): mutual TLS 1.3, client certificate
 * required, HTTP/2; each stream on the path SESSION_PATH is one k8psh session, its body the same
 * frames a local connection carries, so ./connection.ts runs it unchanged.
 *
 * The first byte of each connection is looked at before TLS: a client speaking the plain protocol to
 * this port (a TLS handshake always opens with 0x16) gets a refusal it can print, instead of a reset
 * it would report as a lost connection.
 */
import {
  createSecureServer,
  constants as h2,
  type Http2SecureServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { formatHostPort, type HostPort } from '../config/address.js';
import { SetupError } from '../errors.js';
import { listenAt } from './listen-at.js';
import { ExitCode } from '../protocol/constants.js';
import { encodeRefusal } from '../protocol/server-frames.js';
import {
  CONFIRM_HEADER,
  CONFIRM_SETTING,
  CONFIRM_VALUE,
  MAX_FRAME_SIZE,
  REFUSED_PREFIX,
  SESSION_PATH,
  SESSION_WINDOW,
  STREAM_WINDOW,
} from '../remote/constants.js';
import { peerIdentity, type PeerIdentity } from '../remote/identity.js';
import { keepAlive } from '../remote/keepalive.js';
import { loadTlsMaterial, watchTlsMaterial, type TlsMaterial } from '../remote/material.js';
import type { SessionObserver } from './observer.js';

const TLS_HANDSHAKE = 0x16;
/** A peer that sends nothing at all is dropped after this long. */
const FIRST_BYTE_MS = 10000;
const HANDSHAKE_TIMEOUT_MS = 10000;

export interface TlsPeer {
  identity: PeerIdentity;
  /** `address:port` of the peer, for logs. */
  address: string;
}

export interface TlsListenerSettings {
  name: string;
  directory: string;
  material: TlsMaterial;
  maxStreams: number;
  /** False: refused (and answered) already. */
  admit(socket: Socket): boolean;
  /** False: the stream is refused (busy). */
  admitStream(stream: ServerHttp2Stream): boolean;
  /** `confirm`: the client asked for START_READY/START_GO (docs/remote.md, "Exactly once"). */
  onStream(stream: ServerHttp2Stream, peer: TlsPeer, confirm: boolean): void;
  /** The metrics' observer, if any (set once --metrics listens). */
  observer(): SessionObserver | undefined;
  log: Logger;
}

export class TlsListener {
  private readonly servers: NetServer[] = [];
  private readonly h2: Http2SecureServer;
  private readonly stopWatching: () => void;
  /** Established sessions, told GOAWAY when the server drains. */
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly settings: TlsListenerSettings) {
    const { log } = settings;
    this.h2 = createSecureServer({
      ...secureOptions(settings.material),
      // The chain is verified all the same; a refused client is told why (below) instead of
      // seeing a bare close, which TLS 1.3 gives it after its handshake looked complete.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      // A handshake is milliseconds; one left hanging holds an admission slot (Node's default: 120 s).
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      allowHTTP1: false,
      settings: {
        initialWindowSize: STREAM_WINDOW,
        maxFrameSize: MAX_FRAME_SIZE,
        maxConcurrentStreams: settings.maxStreams,
        customSettings: { [CONFIRM_SETTING]: 1 },
      },
    });
    this.h2.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      settings.observer()?.tlsFailure('handshake');
      log.warn(
        { peer: handshakePeer(socket), err: error.code ?? error.message, reason: error.message },
        'TLS handshake refused',
      );
    });
    this.h2.on('session', (session) => {
      const socket = session.socket as TLSSocket;
      if (!socket.authorized) {
        const reason = clientCertificateProblem(socket);
        settings.observer()?.tlsFailure('certificate');
        log.warn({ peer: address(socket), reason }, 'client certificate refused');
        // GOAWAY's debug data carries the reason to the client (./gateway/upstream.ts prints it).
        session.goaway(h2.NGHTTP2_REFUSED_STREAM, 0, Buffer.from(`${REFUSED_PREFIX}${reason}`));
        setTimeout(() => session.destroy(), 1000).unref();
        return;
      }
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.setLocalWindowSize(SESSION_WINDOW);
      keepAlive(session, () => {
        log.warn({ peer: address(session.socket) }, 'client stopped answering: ending its sessions');
        session.destroy();
      });
      session.on('error', (error: Error) => log.debug({ err: error.message }, 'HTTP/2 session error'));
    });
    this.h2.on('stream', (stream, headers) =>
      this.onStream(stream, headers[':path'], headers[CONFIRM_HEADER] === CONFIRM_VALUE),
    );
    this.stopWatching = watchTlsMaterial(
      settings.directory,
      settings.material,
      (material) => {
        // New handshakes only: established sessions keep the context they were made with.
        this.h2.setSecureContext(secureOptions(material));
        log.info({ directory: settings.directory }, 'TLS material changed: new connections use it');
      },
      (message) => log.warn({ problem: message }, 'TLS material not reloaded'),
    );
  }

  async listen(at: HostPort): Promise<void> {
    const server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) =>
      this.onConnection(socket),
    );
    await listenAt(server, at, {
      inUse: `${formatHostPort(at)} is already in use (server ${this.settings.name})`,
      failed: (where, message) => `cannot listen on ${where}: ${message}`,
      onError: (error) => this.settings.log.error({ err: error.message }, 'TLS listener error'),
    });
    this.servers.push(server);
  }

  /**
   * Stops accepting; established sessions are told GOAWAY (a gateway opens no new stream on them)
   * and finish the streams they have.
   */
  close(): void {
    this.stopWatching();
    for (const server of this.servers) server.close();
    this.h2.close();
    for (const session of this.sessions) session.close();
  }

  private onConnection(socket: Socket): void {
    if (!this.settings.admit(socket)) return;
    // Read now: Node keeps it, and a handshake the peer hangs up on is logged after the socket is gone.
    address(socket);
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), FIRST_BYTE_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) return void this.h2.emit('connection', socket);
      this.settings.observer()?.refused('plaintext');
      this.settings.log.warn(
        { peer: address(socket) },
        'plaintext connection refused: this address speaks only TLS',
      );
      socket.resume();
      socket.end(
        encodeRefusal(
          `server ${this.settings.name} accepts only mutual TLS on ${socket.localAddress}:${socket.localPort} (give the section --remote and --tls)`,
          ExitCode.CONNECTION_FAILURE,
          false,
        ),
      );
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  }

  private onStream(stream: ServerHttp2Stream, path: string | undefined, confirm: boolean): void {
    stream.on('error', () => {});
    // Only a verified client's streams are sessions (an unverified session is being closed).
    if (!(stream.session?.socket as TLSSocket | undefined)?.authorized) {
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (path !== SESSION_PATH) {
      stream.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    if (!this.settings.admitStream(stream)) return;
    const socket = stream.session!.socket as TLSSocket;
    stream.respond(confirm ? { ':status': 200, [CONFIRM_HEADER]: CONFIRM_VALUE } : { ':status': 200 });
    this.settings.onStream(stream, this.peer(socket), confirm);
  }

  /** Who is at the other end of a connection: worked out once, for all its streams. */
  private readonly peers = new WeakMap<TLSSocket, TlsPeer>();

  private peer(socket: TLSSocket): TlsPeer {
    let peer = this.peers.get(socket);
    if (!peer) {
      peer = { identity: peerIdentity(socket.getPeerCertificate()), address: address(socket) };
      this.peers.set(socket, peer);
    }
    return peer;
  }
}

/** Why a client's certificate was refused, in words a user can act on. */
function clientCertificateProblem(socket: TLSSocket): string {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return 'no client certificate was presented';
  const code = String(socket.authorizationError ?? 'not authorized');
  const subject = peerIdentity(certificate).text;
  const why: Record<string, string> = {
    CERT_HAS_EXPIRED: 'has expired',
    CERT_NOT_YET_VALID: 'is not valid yet',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by the CA of this server',
    UNABLE_TO_GET_ISSUER_CERT: 'is not signed by the CA of this server',
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by the CA of this server',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed, not signed by the CA of this server',
    SELF_SIGNED_CERT_IN_CHAIN: 'is not signed by the CA of this server',
    CERT_REVOKED: 'is revoked',
  };
  return `the client certificate (${subject}) ${why[code] ?? `was refused (${code})`}`;
}

function secureOptions(material: TlsMaterial): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: material.cert, key: material.key, ca: material.ca };
}

/**
 * The peer of a failed handshake: a peer that hung up has taken the TLS socket's address with it, but
 * the plain socket under it (`_parent`, Node's own name for it) still has the one read on connection.
 */
function handshakePeer(socket: TLSSocket): string {
  const known = address(socket);
  const parent = (socket as TLSSocket & { _parent?: Socket | null })._parent;
  return known === 'unknown' && parent ? address(parent) : known;
}

function address(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return socket.remoteAddress === undefined
    ? 'unknown'
    : formatHostPort({ host: socket.remoteAddress, port: socket.remotePort ?? 0 });
}

/** Loads the directory's material at start: a missing file is a one-line SetupError (exit 1). */
export function serverTlsMaterial(
  directory: string | undefined,
  nonLoopback: readonly HostPort[],
): TlsMaterial | null {
  if (nonLoopback.length === 0) return null;
  if (directory === undefined)
    throw new SetupError(
      `--listen ${formatHostPort(nonLoopback[0]!)} is not a loopback address: it needs --tls DIR (tls.crt, tls.key, ca.crt)`,
    );
  return loadTlsMaterial(directory);
}

/**
 * A serving k8pshd (docs/protocol.md): its two listeners — 127.0.0.1:port and the local socket
 * `\0k8psh-port` — the sessions they admit, the budgets they share, draining and shutdown.
 *
 * One admission for both listeners: every connection counts toward --max-sessions and the
 * descriptor budget from its accept to its close, whichever listener took it and whatever it is
 * doing (waiting for its first bytes, sending its request, running a command).
 */
import type { ServerHttp2Stream } from 'node:http2';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { formatHostPort, isLoopback, parseHostPort, type HostPort } from '../config/address.js';
import type { CommandConfig, Config } from '../config/model.js';
import { REFUSED_STREAM } from '../remote/constants.js';
import { identityRefusal } from '../remote/identity.js';
import type { TlsMaterial } from '../remote/material.js';
import { SetupError } from '../errors.js';
import { logger } from '../log.js';
import { ExitCode, localSocketPath } from '../protocol/constants.js';
import { encodeRefusal } from '../protocol/server-frames.js';
import { closeDescriptors } from './addon-spawn.js';
import { CONNECTION_DESCRIPTORS, DescriptorBudget } from './descriptor-budget.js';
import { IdleMemoryReducer } from './idle-memory.js';
import { listenAt } from './listen-at.js';
import { listenLocal } from './local.js';
import { PeerWatch } from './peer-watch.js';
import type { ServerOptions } from './options.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { Connection, type FirstMessage, type SessionContext, type Transport } from './connection.js';
import type { ServerMetrics } from './metrics.js';
import type { TlsListener, TlsPeer } from './tls-listener.js';
import { removeFiles } from './stubs.js';

export const SERVER_HOST = '127.0.0.1';
const KILL_GRACE_MS = 2000;
/** A client refused at admission has this long to read the refusal before it is dropped. */
const REFUSAL_LINGER_MS = 2000;

export interface ServerSettings {
  config: Config;
  name: string;
  port: number;
  commands: ReadonlyMap<string, CommandConfig>;
  options: ServerOptions;
  /** The stubs this server made: removed when it stops (unless --keep-client-executables). */
  stubs: string[];
  /** Loaded at start when --listen names a non-loopback address (./tls-listener.ts). */
  tls: TlsMaterial | null;
  /** Anonymous memory growth that makes an idle server give memory back (./idle-memory.ts). */
  residentGrowthBytes?: number;
  /** Makes each session in place of a Connection: the gateway's relay (./gateway/relay.ts). */
  sessions?: (socket: Socket, first: FirstMessage | undefined) => Session;
}

/** What the server holds of a session, whatever runs it. */
export interface Session {
  readonly done: Promise<void>;
  receiveFirst(first: FirstMessage): void;
  awaitRequest(): void;
  refuseIfWaiting(message: string): void;
  hangUp(): void;
}

/** --listen split by where it listens: loopback serves the plain protocol, the rest mutual TLS. */
export function listenAddresses(
  listen: readonly string[],
  port: number,
): { plain: HostPort[]; tls: HostPort[] } {
  const plain: HostPort[] = [];
  const tls: HostPort[] = [];
  for (const text of listen.length > 0 ? listen : [SERVER_HOST]) {
    const address = parseHostPort(text, port);
    if (typeof address === 'string') throw new SetupError(`--listen ${address}`);
    (isLoopback(address.host) ? plain : tls).push(address);
  }
  return { plain, tls };
}

export class Server {
  private readonly connections = new Set<Session>();
  /** Connections admitted and not yet closed, on both listeners. */
  private held = 0;
  private started = 0;
  private stopping = false;
  private readonly plain: NetServer[] = [];
  private local: NetServer | null = null;
  private remote: TlsListener | null = null;
  private metrics: ServerMetrics | null = null;
  /** Both listeners open and not stopping: what /readyz answers. */
  private ready = false;
  private readonly addresses: { plain: HostPort[]; tls: HostPort[] };
  private readonly memory: IdleMemoryReducer;
  private descriptors: DescriptorBudget | null = null;
  private readonly context: SessionContext;
  private readonly pidfile: string | null;

  constructor(
    private readonly settings: ServerSettings,
    private readonly log: Logger,
  ) {
    const { options } = settings;
    this.pidfile = options.background || options.pidfileGiven ? options.pidfile : null;
    // One context for every session: nothing in it belongs to one connection.
    this.context = {
      serverName: settings.name,
      baseDirectory: settings.config.baseDirectory,
      commands: settings.commands,
      limits: options.limits,
      requestTimeoutMs: options.requestTimeoutMs,
      requestBudget: { used: 0, limit: options.maxRequestBytes },
      killGraceMs: KILL_GRACE_MS,
      log: logger('Process'),
      peers: new PeerWatch(),
      onStarted: () => {
        this.started++;
        if (options.maxConnections >= 0 && this.started >= options.maxConnections)
          void this.shutdown('max-connections reached');
      },
    };
    this.addresses = listenAddresses(options.listen, settings.port);
    this.memory = new IdleMemoryReducer({
      isIdle: () => this.connections.size === 0,
      ...(settings.residentGrowthBytes === undefined
        ? {}
        : { residentGrowthBytes: settings.residentGrowthBytes }),
    });
  }

  /**
   * The local socket first (once the port accepts, a client may pass its stdio), then the port; the
   * pidfile once both are ours. A name someone else holds is fatal: stubs would talk to it.
   */
  async listen(): Promise<void> {
    const { name, port, options } = this.settings;
    // First: a probe must find it when the sessions' listeners open (and a bad address fails early).
    if (options.metrics !== undefined) await this.listenMetrics(options.metrics);
    const local = await listenLocal(
      port,
      options.requestTimeoutMs,
      (socket) => this.admit(socket),
      (socket, first) => this.startSession(socket, first),
      logger('Main'),
    );
    this.local = local.server;
    try {
      // With the name taken, the port is bound all the same: when it is taken too (another k8pshd
      // serves this port), that is the error to see.
      for (const address of this.addresses.plain) this.plain.push(await this.listenPlain(address));
      if (this.addresses.tls.length > 0) await this.listenTls();
      if (local.taken)
        throw new SetupError(
          `the local socket @${localSocketPath(port).slice(1)} of server ${name} is already in use: another process holds it, and stubs would talk to that process`,
        );
      if (this.pidfile) writePidfile(this.pidfile);
    } catch (error) {
      for (const server of this.plain) server.close();
      this.remote?.close();
      this.local?.close();
      if (!options.keepClientExecutables) removeFiles(this.settings.stubs);
      throw error;
    }
    if (local.missing)
      this.log[local.missing.level](local.missing.detail, 'no local socket: stdio is relayed over TCP');
    // Counted once both listeners are open: what the server holds before any connection.
    this.descriptors = new DescriptorBudget();
    this.ready = true;
    this.log.info(
      {
        name,
        port,
        local: this.local !== null,
        listen: [...this.addresses.plain, ...this.addresses.tls].map(formatHostPort),
        tls: this.addresses.tls.length > 0,
        commands: [...this.settings.commands.keys()],
      },
      'listening',
    );
  }

  /** Gives back what start-up left, if nothing runs (./idle-memory.ts settle()). */
  settleMemory(): void {
    this.memory.settle();
  }

  /**
   * Stops accepting, drains (a second call: hangs up), removes stubs and pidfile, exits 0 (or, with
   * `exit` false, resolves: a gateway drains all its sections before it exits).
   */
  async shutdown(reason: string, exit = true): Promise<void> {
    if (this.stopping) {
      for (const connection of this.connections) connection.hangUp();
      return;
    }
    this.stopping = true;
    // Not ready from now on: Kubernetes takes the Pod out of its Services while it drains.
    this.ready = false;
    this.log.info({ reason, sessions: this.connections.size }, 'shutting down');
    for (const server of this.plain) server.close();
    this.remote?.close();
    this.local?.close();
    // Running commands are drained; a client still sending its request would hold the exit until
    // its request timeout.
    for (const connection of this.connections)
      connection.refuseIfWaiting(`server ${this.settings.name} is shutting down`);
    if (this.settings.options.noWait) for (const connection of this.connections) connection.hangUp();
    await Promise.all([...this.connections].map((connection) => connection.done));
    if (!this.settings.options.keepClientExecutables) removeFiles(this.settings.stubs);
    if (this.pidfile) removePidfile(this.pidfile);
    this.metrics?.close();
    this.log.info('stopped');
    if (exit) process.exit(ExitCode.SUCCESS);
  }

  /** --metrics: /metrics, /livez, /readyz (./metrics.ts, loaded only then); its observer sees every session. */
  private async listenMetrics(text: string): Promise<void> {
    const at = parseHostPort(text, 0);
    if (typeof at === 'string' || at.port === 0)
      throw new SetupError(`--metrics needs ADDRESS:PORT, not ${JSON.stringify(text)}`);
    const { ServerMetrics } = await import('./metrics.js');
    const metrics = new ServerMetrics();
    await metrics.listen(at, () => this.ready);
    this.metrics = metrics;
    this.context.observer = metrics;
  }

  /** One plain listener: a loopback address, where the Pod's own clients connect. */
  private async listenPlain(address: HostPort): Promise<NetServer> {
    const { name } = this.settings;
    const where = formatHostPort(address);
    // Half-open: a client that shut down its side still gets its output and exit code.
    const server = createServer(
      { noDelay: true, pauseOnConnect: false, allowHalfOpen: true },
      (socket: Socket) => {
        if (this.admit(socket)) this.startSession(socket);
      },
    );
    await listenAt(server, address, {
      inUse: `port ${address.port} is already in use (server ${name} on ${where})`,
      failed: (at, message) => `cannot listen on ${at}: ${message}`,
      onError: (error) => this.log.error({ err: error.message }, 'server error'),
    });
    return server;
  }

  /** The mutual-TLS listeners (./tls-listener.ts), loaded only when --listen names such an address. */
  private async listenTls(): Promise<void> {
    const { TlsListener } = await import('./tls-listener.js');
    const { name, options, tls } = this.settings;
    this.remote = new TlsListener({
      name,
      directory: options.tls!,
      material: tls!,
      maxStreams: options.maxSessions,
      admit: (socket) => this.admit(socket),
      admitStream: (stream) => this.admitStream(stream),
      onStream: (stream, peer, confirm) => this.startSession(stream, undefined, peer, confirm),
      observer: () => this.context.observer,
      log: logger('Main'),
    });
    for (const address of this.addresses.tls) await this.remote.listen(address);
  }

  /**
   * A stream is a session: it counts toward --max-sessions and the descriptor budget as a connection
   * does (its command's socketpairs and pidfd are the same whatever carries the session; the TLS
   * connection's own socket was counted when it was accepted).
   */
  private admitStream(stream: ServerHttp2Stream): boolean {
    if (this.stopping) {
      // Draining: HTTP/2's "not processed, retry": a gateway sends the session to another replica.
      this.context.observer?.refused('draining');
      stream.close(REFUSED_STREAM);
      return false;
    }
    const refusal = this.hold(stream, 'stream');
    if (refusal === null) return true;
    stream.end(encodeRefusal(refusal, ExitCode.FAILURE, false));
    return false;
  }

  /** False: the connection was dropped or refused (and is not read). */
  private admit(socket: Socket): boolean {
    if (this.stopping) {
      socket.destroy();
      return false;
    }
    const refusal = this.hold(socket, 'connection');
    if (refusal !== null) this.refuse(socket, refusal);
    return refusal === null;
  }

  /**
   * A session's share of --max-sessions and of the descriptor budget, given back when `holder`
   * closes; or the refusal when none is left.
   */
  private hold(holder: Transport, kind: 'connection' | 'stream'): string | null {
    const { name, options } = this.settings;
    if (this.held >= options.maxSessions) {
      this.log.warn({ limit: options.maxSessions }, `${kind} refused: too many sessions`);
      this.context.observer?.refused('busy');
      return `server ${name} is busy (${options.maxSessions} sessions)`;
    }
    const descriptors = this.descriptors;
    if (descriptors && !descriptors.take(CONNECTION_DESCRIPTORS)) {
      this.log.warn({ limit: descriptors.limit }, `${kind} refused: out of file descriptors`);
      this.context.observer?.refused('descriptors');
      return `server ${name} is out of file descriptors (its limit is ${descriptors.limit}): try again later`;
    }
    this.held++;
    holder.once('close', () => {
      this.held--;
      descriptors?.give(CONNECTION_DESCRIPTORS);
    });
    return null;
  }

  /**
   * Refused before anything is read: old and new clients both print a STDERR_DATA refusal. Its bytes
   * are discarded, and a peer that never closes does not keep the descriptor.
   */
  private refuse(socket: Socket, message: string): void {
    socket.on('error', () => {});
    socket.resume();
    socket.end(encodeRefusal(message, ExitCode.FAILURE, false));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  }

  private startSession(socket: Transport, first?: FirstMessage, peer?: TlsPeer, confirm = false): void {
    // A local connection may have waited for its first bytes: the server may be stopping now.
    if (this.stopping) {
      if (first) closeDescriptors(first.fds);
      return void socket.destroy();
    }
    const make = this.settings.sessions;
    const connection: Session =
      make && !peer
        ? make(socket as Socket, first)
        : new Connection(
            socket,
            peer ? this.peerContext(peer) : this.context,
            peer ? 'tls' : first ? 'local' : 'tcp',
            confirm,
          );
    this.connections.add(connection);
    void connection.done.then(() => {
      this.connections.delete(connection);
      this.memory.sessionEnded();
    });
    // Counted first: this request may be the one that reaches --max-connections.
    if (first) connection.receiveFirst(first);
    else connection.awaitRequest();
  }

  /** Every log line of a TLS peer's session carries who it is; a refused identity is refused at START. */
  private peerContext(peer: TlsPeer): SessionContext {
    let context = this.peerContexts.get(peer);
    if (!context) this.peerContexts.set(peer, (context = this.makePeerContext(peer)));
    return context;
  }

  /** One per TLS connection (a gateway's sessions all share theirs): its logger is made once. */
  private readonly peerContexts = new WeakMap<TlsPeer, SessionContext>();

  private makePeerContext(peer: TlsPeer): SessionContext {
    const { name, options } = this.settings;
    const refusal = identityRefusal(peer.identity, options.allowIdentities, name);
    if (refusal) this.log.warn({ peer: peer.address, identity: peer.identity.text }, 'identity not allowed');
    return {
      ...this.context,
      log: this.context.log.child({ identity: peer.identity.text, peer: peer.address }),
      identityRefusal: refusal,
    };
  }
}

/**
 * One connection on the server: the pure ServerSession decides, this runs the
 * command and moves bytes with back-pressure both ways, so memory stays
 * bounded whatever the sizes and however slow either end is.
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { isatty } from 'node:tty';
import type { Logger } from 'pino';
import { encodeValue } from '../protocol/codec.js';
import {
  ALL_FEATURES,
  ConfirmFrame,
  ExitCode,
  Feature,
  FrameType,
  type Limits,
} from '../protocol/constants.js';
import { STDERR_END, STDIN_END, STDOUT_END, writeData } from '../protocol/data.js';
import { ServerSession, type ServerSessionHandler, type SessionRequest } from '../protocol/server-session.js';
import { encodeExit, encodeHelloReply, encodeRefusal } from '../protocol/server-frames.js';
import { closeDescriptors } from './addon-spawn.js';
import { spawnDirect } from './direct-child.js';
import type { ChildEvents, RunningChild, SpawnSpec } from './child.js';
import { relayedBytes, spawnPiped } from './piped-child.js';
import { planCommand, type PlanContext } from './plan.js';
import { REFUSED_STREAM } from '../remote/constants.js';
import { callerEnv } from '../runtime/caller-env.js';
import type { PeerWatch } from './peer-watch.js';
import type { Outcome, RefusalReason, SessionObserver, Transport as Carrier } from './observer.js';

/** The metrics' name of a refusal by the exit code a shell would give it. */
function refusalReason(code: number): RefusalReason {
  if (code === ExitCode.NOT_FOUND) return 'not-found';
  if (code === ExitCode.NOT_EXECUTABLE) return 'not-executable';
  return 'working-directory';
}

/** A spawn plan's working directory is the session's to close, once the command started or not. */
function closeWorkingDirectory(spec: SpawnSpec): void {
  closeDescriptors([spec.cwd.fd]);
}

/** Output queued on an HTTP/2 stream before the command is paused (see forward()). */
const STREAM_OUTPUT_HIGH_WATER = 256 << 10;

/** How long a finished session waits for the client to close before dropping it. */
const LINGER_MS = 5000;

export interface SessionContext extends PlanContext {
  limits: Limits;
  /** A request not complete by then is refused. */
  requestTimeoutMs: number;
  /** After the client is gone, the process group gets SIGTERM, then SIGKILL this much later. */
  killGraceMs: number;
  log: Logger;
  /**
   * Bytes of requests in progress (sent before START_COMMAND) held by all connections together:
   * the per-request caps bound one client, this bounds them all (--max-request-bytes). A refused
   * request counts until its connection closes.
   */
  requestBudget: { used: number; readonly limit: number };
  /** Called once when START_COMMAND arrives (run or refused): counts toward --max-connections. */
  onStarted(): void;
  /** Where a session that Node would not see end is watched for its client leaving (./peer-watch.ts). */
  peers: PeerWatch;
  /** Set for a TLS peer whose identity this server does not serve: every request is refused with it. */
  identityRefusal?: string | null;
  /** With --metrics: told of every session (./observer.ts). */
  observer?: SessionObserver | undefined;
}

/**
 * A local or loopback socket, or one HTTP/2 stream of a TLS client (./tls-listener.ts): the same frames
 * either way. A stream needs no peer watch: its session reads on while the stream is paused, so a
 * client gone (RST_STREAM, a lost connection, an unanswered PING) always closes it.
 */
export type Transport = Socket | ServerHttp2Stream;

/** The first bytes of a connection on the local socket, with the descriptors that came with them. */
export interface FirstMessage {
  bytes: Buffer;
  fds: number[];
}

export class Connection implements ServerSessionHandler, ChildEvents {
  private readonly session: ServerSession;
  private child: RunningChild | null = null;
  private closed = false;
  private exited = false;
  private outputPaused = false;
  private stdinClosedSent = false;
  /** START_COMMAND was accepted; the spawn waits until the rest of its chunk is decoded. */
  private pendingSpawn: SpawnSpec | null = null;
  /** START_READY was sent (a confirming remote client): it runs when START_GO comes, and only then. */
  private awaitingGo: SpawnSpec | null = null;
  private goReceived = false;
  /** Stdin, its end and signals that arrived before the command was attached. */
  private pendingStdin: Buffer[] = [];
  private pendingStdinEnd = false;
  /** The client shut down its side (or its data ended): it may still read our output. */
  private halfClosed = false;
  /** Reading is paused because the command's stdin is full (or not attached yet). */
  private readingPaused = false;
  private readonly pendingSignals: (NodeJS.Signals | number)[] = [];
  private requestTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** This connection's share of the request budget, given back at START_COMMAND or when it closes. */
  private requestBytes = 0;
  /** The client's stdin, stdout, stderr, passed over the local socket: the command runs on them. */
  private passedFds: number[] | null = null;
  readonly done: Promise<void>;
  private markDone!: () => void;
  /** Debug lines are built only when they are written (K8PSH_DEBUG=Process): not on every session. */
  private readonly debugging: boolean;

  /** performance.now() at START_COMMAND, for the metrics; null before. */
  private startedAt: number | null = null;
  /** Writes to an HTTP/2 stream are corked until the end of this turn (./batch()). */
  private corked = false;
  /** The socket when the peer watch applies (not an HTTP/2 stream). */
  private readonly watchable: Socket | null;

  constructor(
    private readonly socket: Transport,
    private readonly context: SessionContext,
    /** What carried the session, for the metrics. */
    private readonly carrier: Carrier = 'tcp',
    /**
     * A remote client that confirms the start (docs/remote.md, "Exactly once"): its complete request
     * is answered START_READY and run on its START_GO, so that it knows whether anything can have run.
     */
    private readonly confirmStart = false,
  ) {
    this.watchable = 'setNoDelay' in socket ? socket : null;
    this.session = new ServerSession(this, context.limits, confirmStart);
    this.debugging = context.log.isLevelEnabled('debug');
    this.done = new Promise((resolve) => (this.markDone = resolve));
    this.watchable?.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      context.log.debug({ err: error.code }, 'socket error'),
    );
    socket.on('end', () => this.onClientEnd());
    socket.on('close', () => this.onClientGone());
    socket.on('drain', () => this.onSocketDrain());
  }

  /** A TCP connection: its request is still to come, and must come in time. */
  awaitRequest(): void {
    this.armRequestTimer();
  }

  /** The first bytes of a local connection, read with its descriptors (./local.ts). */
  receiveFirst(first: FirstMessage): void {
    if (first.fds.length > 0) this.passedFds = first.fds;
    // Accepted paused (pauseOnConnect): from here on Node reads it, unless receive() pauses it again.
    this.socket.resume();
    this.receive(first.bytes);
    this.armRequestTimer();
  }

  /**
   * Server shutdown: a client still sending its request is refused (running commands are drained). A
   * remote one is told to go elsewhere: RST_STREAM REFUSED_STREAM says, in HTTP/2's own words, that
   * nothing of it was processed (a gateway sends it to another replica). A session answered
   * START_READY was promised a run: it gets it.
   */
  refuseIfWaiting(message: string): void {
    if (this.session.started || this.closed) return;
    if (this.watchable) return this.refuse(message, ExitCode.FAILURE, 'shutting-down');
    this.context.observer?.refused('draining');
    this.context.log.info('request sent elsewhere: draining');
    this.closed = true;
    (this.socket as ServerHttp2Stream).close(REFUSED_STREAM);
  }

  /** Server shutdown without waiting: hang up on the command and the client. */
  hangUp(): void {
    this.child?.signal('SIGHUP');
    this.socket.destroy();
  }

  onHello(version: number, features: number): void {
    if (this.debugging) this.context.log.debug({ version, features }, 'client hello');
    this.send(encodeHelloReply(version, ALL_FEATURES));
  }

  onStart(request: SessionRequest): void {
    this.clearRequestTimer();
    this.context.onStarted();
    // A confirming client's session starts at START_GO (onGo): until then it may go elsewhere.
    if (this.context.observer && !this.confirmStart) {
      this.startedAt = performance.now();
      this.context.observer.started(this.carrier);
    }
    // A TLS peer's sessions are logged one by one, with who asked (the context's logger says who).
    if (this.context.identityRefusal !== undefined)
      this.context.log.info({ command: request.command, cwd: request.workingDirectory }, 'remote session');
    if (this.context.identityRefusal)
      return this.refuse(this.context.identityRefusal, ExitCode.FAILURE, 'identity');
    const plan = planCommand(
      request,
      this.context,
      this.session.features,
      this.passedFds?.length ?? 0,
      callerEnv(),
      // Only a TERM sent along makes a passed terminal matter (./plan.ts): no isatty otherwise.
      request.environment.has('TERM') && (this.passedFds?.some((fd) => isatty(fd)) ?? false),
    );
    if ('refusal' in plan) return this.refuse(plan.refusal, plan.code, refusalReason(plan.code));
    if ('protocolError' in plan) return this.onProtocolError(plan.protocolError);
    const spec = plan.spawn;
    if (this.debugging)
      this.context.log.debug(
        {
          command: request.command,
          file: spec.file,
          args: spec.args,
          cwd: spec.cwd.path,
          tty: !!spec.tty,
          direct: (this.session.features & Feature.PASSED_STDIO) !== 0,
        },
        'starting',
      );
    // Not yet: a protocol error later in the same chunk (a second START_COMMAND, ...) refuses the
    // client before anything runs.
    this.pendingSpawn = spec;
  }

  onGo(): void {
    const spec = this.awaitingGo;
    if (spec === null) return this.onProtocolError('START_GO before START_READY');
    this.awaitingGo = null;
    this.clearRequestTimer();
    this.goReceived = true;
    if (this.context.observer) {
      this.startedAt = performance.now();
      this.context.observer.started(this.carrier);
    }
    // Run once the chunk is decoded, as a START_COMMAND is (receive()).
    this.pendingSpawn = spec;
  }

  onStdin(chunk: Buffer): void {
    // Refused (command not found, ...): an original client may still be sending; keep reading, drop it.
    if (this.stdinClosedSent || this.closed) return;
    this.context.observer?.relayed('stdin', chunk.length);
    const child = this.child;
    if (!child) {
      // The command is not attached yet: keep this (a copy: the chunk is a view) and read no more.
      this.pendingStdin.push(Buffer.from(chunk));
      this.pauseReading();
      return;
    }
    if (!child.writeStdin(chunk)) {
      // The command reads slower than the client sends: stop reading the socket until it catches up.
      this.pauseReading();
      child.onStdinDrain(() => this.resumeReading());
    }
  }

  onStdinEnd(): void {
    if (this.child) this.child.endStdin();
    else this.pendingStdinEnd = true;
  }

  onTerminate(): void {
    this.signalChild('SIGKILL');
  }

  onSignal(signal: number): void {
    this.signalChild(signal);
  }

  onResize(rows: number, cols: number): void {
    this.child?.resize(rows, cols);
  }

  onProtocolError(message: string): void {
    this.dropAwaitingGo();
    this.context.log.warn({ problem: message }, 'protocol error, refusing the client');
    this.child?.signal('SIGKILL');
    this.refuse(`protocol error: ${message}`, ExitCode.FAILURE, 'protocol');
  }

  // --- the running command ---

  onStdout(chunk: Buffer): void {
    this.forward(FrameType.STDOUT_DATA, chunk);
  }

  onStderr(chunk: Buffer): void {
    this.forward(FrameType.STDERR_DATA, chunk);
  }

  onStdoutEnd(): void {
    this.send(STDOUT_END);
  }

  onStderrEnd(): void {
    this.send(STDERR_END);
  }

  onStdinClosed(): void {
    if (this.stdinClosedSent) return;
    this.stdinClosedSent = true;
    this.send(STDIN_END);
  }

  onSpawnError(error: NodeJS.ErrnoException): void {
    const code = error.code === 'ENOENT' ? ExitCode.NOT_FOUND : ExitCode.NOT_EXECUTABLE;
    const message =
      error.code === 'E2BIG'
        ? 'cannot run the command: its arguments and environment are too long for the system (E2BIG)'
        : `cannot run the command: ${error.message}`;
    this.refuse(message, code, refusalReason(code));
  }

  onExit(code: number | null, signal: number | null): void {
    this.exited = true;
    this.record(signal === null ? 'exited' : 'signalled');
    if (this.debugging) this.context.log.debug({ code, signal }, 'command ended');
    this.finish(encodeExit(code, signal, this.session.modern));
  }

  /**
   * One chunk of the client's bytes; a command accepted in it starts once the whole chunk is decoded.
   * The HELLO reply is not held back until the command has started (it would save a write before
   * spawning): a client that sees no byte at all concludes that nothing ran and runs the command
   * again over TCP (src/client/direct.ts), so a server killed in between would run it twice.
   */
  private receive(chunk: Buffer): void {
    const budget = this.context.requestBudget;
    // Each read is a fresh buffer, garbage once decoded: a request flood piles them up as a relay does.
    if (!this.session.started) relayedBytes(chunk.length);
    if (!this.session.started && !this.closed) {
      this.requestBytes += chunk.length;
      budget.used += chunk.length;
    }
    this.session.receive(chunk);
    // A complete request is a command to run, no longer a request in progress.
    if (this.session.started) this.releaseRequestBytes();
    // Decoded first (one socket read at most), so that the refusal speaks the client's framing.
    else if (budget.used > budget.limit && !this.closed)
      return this.refuse(
        `server ${this.context.serverName} is busy (more than ${budget.limit} bytes of requests in progress)`,
        ExitCode.FAILURE,
        'busy',
      );
    const spec = this.pendingSpawn;
    if (spec === null) return;
    this.pendingSpawn = null;
    if (this.closed) return closeWorkingDirectory(spec);
    if (this.confirmStart && !this.goReceived) return this.awaitGo(spec);
    this.spawn(spec);
  }

  /**
   * START_READY, and nothing runs until START_GO: a client that does not answer in time has gone
   * elsewhere or away, and its session ends with nothing run.
   */
  private awaitGo(spec: SpawnSpec): void {
    this.awaitingGo = spec;
    this.send(encodeValue(ConfirmFrame.START_READY, 0));
    // Nothing runs until the answer: out now, with the HELLO reply before it, not a turn later.
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.requestTimer = setTimeout(() => {
      this.requestTimer = null;
      if (this.awaitingGo === null) return;
      this.dropAwaitingGo();
      this.refuse('START_GO not received in time', ExitCode.FAILURE, 'timeout');
    }, this.context.requestTimeoutMs);
  }

  private dropAwaitingGo(): void {
    const spec = this.awaitingGo;
    this.awaitingGo = null;
    if (spec) closeWorkingDirectory(spec);
  }

  private spawn(spec: SpawnSpec): void {
    if (spec.tty) return void this.startPty(spec);
    let child: RunningChild;
    const fds = this.passedFds;
    this.passedFds = null;
    try {
      child = fds ? spawnDirect(spec, fds, this) : spawnPiped(spec, this);
    } catch (error) {
      // spawn() throws for some failures (E2BIG, EMFILE, ...) instead of emitting 'error'.
      return this.onSpawnError(error as NodeJS.ErrnoException);
    } finally {
      // The command has its own working directory now (or none at all).
      closeWorkingDirectory(spec);
    }
    this.attach(child);
  }

  private async startPty(spec: SpawnSpec): Promise<void> {
    try {
      const { spawnPty } = await import('./pty-child.js');
      this.attach(await spawnPty(spec, this));
    } catch (error) {
      this.refuse(
        `cannot start a terminal: ${(error as Error).message}`,
        ExitCode.NOT_EXECUTABLE,
        'not-executable',
      );
    } finally {
      closeWorkingDirectory(spec);
    }
  }

  private attach(child: RunningChild): void {
    this.child = child;
    // The client may have gone while we were spawning.
    if (this.closed) return this.killGroup();
    for (const signal of this.pendingSignals.splice(0)) child.signal(signal);
    const pending = this.pendingStdin;
    this.pendingStdin = [];
    let flowing = true;
    for (const chunk of pending) flowing = child.writeStdin(chunk) && flowing;
    if (this.pendingStdinEnd) child.endStdin();
    if (flowing) this.resumeReading();
    else child.onStdinDrain(() => this.resumeReading());
  }

  /**
   * Paused, Node no longer sees the client go: its FIN waits behind the stdin it could not send. The
   * session is watched meanwhile (./peer-watch.ts).
   */
  private pauseReading(): void {
    this.socket.pause();
    if (this.readingPaused || this.closed) return;
    this.readingPaused = true;
    this.watch();
  }

  private resumeReading(): void {
    this.socket.resume();
    if (!this.readingPaused) return;
    this.readingPaused = false;
    if (!this.halfClosed) this.unwatch();
  }

  /**
   * The client's data ended (it shut down its side, or closed): no more request or stdin can come,
   * but a half-closed client still reads the output and the exit code, on every path. Whether it
   * is still there is then for the peer watch to tell: an end of data looks the same either way.
   */
  private onClientEnd(): void {
    if (this.closed || this.halfClosed) return;
    this.halfClosed = true;
    if (!this.session.started)
      // Nothing at all (a probe that only connects): nothing to refuse; a request cut short: refused.
      return this.requestBytes === 0
        ? this.finish(Buffer.alloc(0))
        : this.refuse('the request ended before START_COMMAND', ExitCode.FAILURE, 'protocol');
    this.onStdinEnd();
    this.watch();
  }

  private watch(): void {
    if (this.watchable) this.context.peers.watch(this.watchable, () => this.socket.destroy());
  }

  private unwatch(): void {
    if (this.watchable) this.context.peers.unwatch(this.watchable);
  }

  private releaseRequestBytes(): void {
    this.context.requestBudget.used -= this.requestBytes;
    this.requestBytes = 0;
  }

  private signalChild(signal: NodeJS.Signals | number): void {
    if (this.child) this.child.signal(signal);
    else if (this.session.started && this.pendingSignals.length < 64) this.pendingSignals.push(signal);
  }

  private forward(type: number, chunk: Buffer): void {
    if (this.closed) return;
    this.context.observer?.relayed(type === FrameType.STDOUT_DATA ? 'stdout' : 'stderr', chunk.length);
    if (!this.watchable) this.batch();
    const full = !writeData(this.socket, type, chunk);
    // An HTTP/2 stream says full at 16 KiB, less than one child read: the command would stop at
    // every read until the peer's WINDOW_UPDATE came back. 256 KiB per session keeps it flowing.
    if (
      full &&
      !this.outputPaused &&
      (this.watchable || this.socket.writableLength >= STREAM_OUTPUT_HIGH_WATER)
    ) {
      this.outputPaused = true;
      this.child?.pauseOutput();
    }
  }

  private onSocketDrain(): void {
    if (!this.outputPaused) return;
    this.outputPaused = false;
    this.child?.resumeOutput();
  }

  private send(frame: Buffer): void {
    if (this.closed) return;
    if (!this.watchable) this.batch();
    this.socket.write(frame);
  }

  /**
   * An HTTP/2 stream (a remote client): the frames of one event-loop turn leave in one write, one
   * DATA frame and TLS record instead of one each (HELLO reply, ends of stdout and stderr, exit).
   */
  private batch(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }

  private refuse(message: string, code: number, reason: RefusalReason): void {
    this.context.observer?.refused(reason);
    this.record('refused');
    this.session.discard();
    this.context.log.info({ problem: message, code }, 'request refused');
    this.finish(encodeRefusal(message, code, this.session.modern));
  }

  /** The last frames: the socket ends once they are flushed. */
  private finish(frames: Buffer): void {
    this.clearRequestTimer();
    this.releasePassedFds();
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    this.socket.end(frames);
    // A peer that never closes its side must not hold the session (and a shutdown) forever.
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private onClientGone(): void {
    this.clearRequestTimer();
    this.dropAwaitingGo();
    // The timer would keep this session (and a request of up to the caps) alive for nothing.
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.releaseRequestBytes();
    this.session.discard();
    this.releasePassedFds();
    const wasOpen = !this.closed;
    this.closed = true;
    this.unwatch();
    this.markDone();
    this.record('client-gone');
    if (wasOpen && this.child && !this.exited) {
      this.context.log.info({ pid: this.child.pid }, 'client gone: ending its command');
      this.killGroup();
    }
  }

  /** The session's end, once, for the metrics: only a session that started has one to tell. */
  private record(outcome: Outcome): void {
    if (this.startedAt === null) return;
    this.context.observer?.finished(outcome, (performance.now() - this.startedAt) / 1000);
    this.startedAt = null;
  }

  private killGroup(): void {
    const child = this.child!;
    child.signal('SIGTERM');
    child.resumeOutput();
    setTimeout(() => child.signal('SIGKILL'), this.context.killGraceMs).unref();
  }

  /** Descriptors no command will use: ours to close. */
  private releasePassedFds(): void {
    if (this.passedFds) closeDescriptors(this.passedFds);
    this.passedFds = null;
  }

  /**
   * A request not complete by `requestTimeoutMs` is refused. A stub's request is nearly always
   * complete in its first bytes: it then needs no timer at all (one less to make and clear on the
   * stub's path).
   */
  private armRequestTimer(): void {
    if (this.session.started || this.closed || this.requestTimer) return;
    this.requestTimer = setTimeout(
      () => this.refuse('request not completed in time', ExitCode.FAILURE, 'timeout'),
      this.context.requestTimeoutMs,
    );
  }

  private clearRequestTimer(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
  }
}

/**
 * One connection on the server: the pure ServerSession decides, this runs the
 * command and moves bytes with back-pressure both ways, so memory stays
 * bounded whatever the sizes and however slow either end is.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { commandEnvironment } from '../config/environment.js';
import type { CommandConfig } from '../config/model.js';
import { encodeHeader } from '../protocol/codec.js';
import { ALL_FEATURES, ExitCode, FrameType, type Limits } from '../protocol/constants.js';
import { ServerSession, type ServerSessionHandler, type SessionRequest } from '../protocol/server-session.js';
import {
  encodeExit,
  encodeHelloReply,
  encodeRefusal,
  STDERR_END,
  STDIN_CLOSED,
  STDOUT_END,
} from '../protocol/server-frames.js';
import { spawnPiped, type ChildEvents, type RunningChild, type SpawnSpec } from './child.js';
import { DEFAULT_PATH, findExecutable } from './executable.js';
import { resolveWorkingDirectory } from './workdir.js';

/** How long a finished session waits for the client to close before dropping it. */
const LINGER_MS = 5000;

export interface SessionContext {
  serverName: string;
  baseDirectory: string;
  commands: ReadonlyMap<string, CommandConfig>;
  limits: Limits;
  /** A request not complete by then is refused. */
  requestTimeoutMs: number;
  /** After the client is gone, the process group gets SIGTERM, then SIGKILL this much later. */
  killGraceMs: number;
  log: Logger;
  /** Called once when START_COMMAND arrives (run or refused): counts toward --max-connections. */
  onStarted(): void;
}

export class Connection implements ServerSessionHandler, ChildEvents {
  private readonly session: ServerSession;
  private child: RunningChild | null = null;
  private closed = false;
  private exited = false;
  private outputPaused = false;
  private stdinClosedSent = false;
  private requestTimer: NodeJS.Timeout | null;
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    private readonly socket: Socket,
    private readonly context: SessionContext,
  ) {
    this.session = new ServerSession(this, context.limits);
    this.done = new Promise((resolve) => (this.markDone = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.session.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      context.log.debug({ err: error.code }, 'socket error'),
    );
    socket.on('close', () => this.onClientGone());
    socket.on('drain', () => this.onSocketDrain());
    this.requestTimer = setTimeout(
      () => this.refuse('request not completed in time', ExitCode.FAILURE),
      context.requestTimeoutMs,
    );
  }

  /** Server shutdown without waiting: hang up on the command and the client. */
  hangUp(): void {
    this.child?.signal('SIGHUP');
    this.socket.destroy();
  }

  onHello(version: number, features: number): void {
    this.context.log.debug({ version, features }, 'client hello');
    this.send(encodeHelloReply(version, ALL_FEATURES));
  }

  onStart(request: SessionRequest): void {
    this.clearRequestTimer();
    this.context.onStarted();
    const { log } = this.context;
    const command = this.context.commands.get(request.command);
    if (!command)
      return this.refuse(
        `${request.command}: command not found on server ${this.context.serverName}`,
        ExitCode.NOT_FOUND,
      );
    const directory = resolveWorkingDirectory(this.context.baseDirectory, request.workingDirectory);
    if ('error' in directory) return this.refuse(directory.error, ExitCode.FAILURE);
    const env = commandEnvironment(command.environment, request.environment, process.env);
    const [executable = command.name, ...fixed] = command.argv;
    const found = findExecutable(executable, directory.path, env.PATH ?? DEFAULT_PATH);
    if ('error' in found) return this.refuse(found.error, found.code);
    const spec: SpawnSpec = {
      file: found.path,
      argv0: executable,
      args: [...fixed, ...request.arguments],
      cwd: directory.path,
      env: request.tty ? { ...env, TERM: request.tty.term } : env,
      tty: request.tty,
    };
    log.debug(
      { command: request.command, file: spec.file, args: spec.args, cwd: spec.cwd, tty: !!spec.tty },
      'starting',
    );
    if (spec.tty) void this.startPty(spec);
    else this.attach(spawnPiped(spec, this));
  }

  onStdin(chunk: Buffer): void {
    const child = this.child;
    if (!child || this.stdinClosedSent) return;
    if (!child.writeStdin(chunk)) {
      // The command reads slower than the client sends: stop reading the socket until it catches up.
      this.socket.pause();
      child.onStdinDrain(() => this.socket.resume());
    }
  }

  onStdinEnd(): void {
    this.child?.endStdin();
  }

  onTerminate(): void {
    this.child?.signal('SIGKILL');
  }

  onSignal(signal: number): void {
    this.child?.signal(signal);
  }

  onResize(rows: number, cols: number): void {
    this.child?.resize(rows, cols);
  }

  onProtocolError(message: string): void {
    this.context.log.warn({ problem: message }, 'protocol error, refusing the client');
    this.child?.signal('SIGKILL');
    this.refuse(`protocol error: ${message}`, ExitCode.FAILURE);
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
    this.send(STDIN_CLOSED);
  }

  onSpawnError(error: NodeJS.ErrnoException): void {
    const code = error.code === 'ENOENT' ? ExitCode.NOT_FOUND : ExitCode.NOT_EXECUTABLE;
    this.refuse(`cannot run the command: ${error.message}`, code);
  }

  onExit(code: number | null, signal: number | null): void {
    this.exited = true;
    this.context.log.debug({ code, signal }, 'command ended');
    this.finish(encodeExit(code, signal, this.session.modern));
  }

  private async startPty(spec: SpawnSpec): Promise<void> {
    try {
      const { spawnPty } = await import('./pty-child.js');
      this.attach(await spawnPty(spec, this));
    } catch (error) {
      this.refuse(`cannot start a terminal: ${(error as Error).message}`, ExitCode.NOT_EXECUTABLE);
    }
  }

  private attach(child: RunningChild): void {
    this.child = child;
    // The client may have gone while we were spawning.
    if (this.closed) this.killGroup();
  }

  private forward(type: number, chunk: Buffer): void {
    if (this.closed) return;
    const socket = this.socket;
    socket.cork();
    socket.write(encodeHeader(type, chunk.length));
    const flowing = socket.write(chunk);
    socket.uncork();
    if (!flowing && !this.outputPaused) {
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
    if (!this.closed) this.socket.write(frame);
  }

  private refuse(message: string, code: number): void {
    this.context.log.info({ problem: message, code }, 'request refused');
    this.finish(encodeRefusal(message, code, this.session.modern));
  }

  /** The last frames: the socket ends once they are flushed. */
  private finish(frames: Buffer): void {
    this.clearRequestTimer();
    if (this.closed) return;
    this.closed = true;
    this.socket.end(frames);
    // A peer that never closes its side must not hold the session (and a shutdown) forever.
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private onClientGone(): void {
    this.clearRequestTimer();
    const wasOpen = !this.closed;
    this.closed = true;
    this.markDone();
    if (wasOpen && this.child && !this.exited) {
      this.context.log.info({ pid: this.child.pid }, 'client gone: ending its command');
      this.killGroup();
    }
  }

  private killGroup(): void {
    const child = this.child!;
    child.signal('SIGTERM');
    child.resumeOutput();
    setTimeout(() => child.signal('SIGKILL'), this.context.killGraceMs).unref();
  }

  private clearRequestTimer(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
  }
}

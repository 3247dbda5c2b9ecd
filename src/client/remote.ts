/**
 * One remote command, as seen from the client: send the request, stream stdin
 * to the server and stdout/stderr back, forward signals, and report how the
 * command ended. Thin I/O around the pure ClientSession.
 */
import type { Socket } from 'node:net';
import { ExitCode, Feature, FrameType, DATA_CHUNK_SIZE } from '../protocol/constants.js';
import { encodeHeader, encodeValue } from '../protocol/codec.js';
import {
  ClientSession,
  encodeRequest,
  encodeResize,
  encodeSignal,
  encodeTerminate,
  type ClientRequest,
  type ClientSessionHandler,
} from '../protocol/client-session.js';
import type { TtyRequest } from '../protocol/tty.js';
import { clientDebug } from '../debug.js';
import { FORWARDED_SIGNALS, signalName, signalNumber } from '../signals.js';
import { connectWithRetry } from './connect.js';
import { ClientError, CONNECTION_FAILURE } from './fail.js';
import { enterRawMode } from './terminal.js';

export interface RemoteTarget {
  serverName: string;
  port: number;
  connectTimeoutMs: number;
}

export type RemoteCommand = Omit<ClientRequest, 'hello' | 'tty' | 'features'>;

export interface Outcome {
  code: number;
  /** Set when the remote command died by this signal. */
  signal: NodeJS.Signals | null;
}

const STDIN_END = encodeValue(FrameType.STDIN_DATA, 0);

export async function runRemote(
  target: RemoteTarget,
  command: RemoteCommand,
  tty: TtyRequest | null,
): Promise<Outcome> {
  const socket = await connectWithRetry(target.port, target.connectTimeoutMs, target.serverName);
  const outcome = await new RemoteSession(socket, command, tty, true).run();
  if (outcome !== LEGACY_SERVER) return outcome;
  // An original k8psh server drops a connection that opens with HELLO, before running anything.
  clientDebug('Process', 'the server closed on HELLO: retrying with the original protocol');
  const legacy = await connectWithRetry(target.port, target.connectTimeoutMs, target.serverName);
  const result = await new RemoteSession(legacy, command, null, false).run();
  if (result === LEGACY_SERVER)
    throw new ClientError(`the server ${target.serverName} closed the connection`, CONNECTION_FAILURE);
  return result;
}

const LEGACY_SERVER = Symbol('legacy server');

class RemoteSession implements ClientSessionHandler {
  private readonly session = new ClientSession(this);
  private resolve!: (outcome: Outcome | typeof LEGACY_SERVER) => void;
  private reject!: (error: Error) => void;
  private streaming = false;
  private finished = false;
  private stdinOpen = true;
  private stdoutBroken = false;
  /** Outputs waiting for 'drain'; the socket stays paused while any is. */
  private blockedOutputs = 0;
  private pendingSignal: NodeJS.Signals | null = null;
  private terminateSent = false;
  private restoreTerminal: (() => void) | null = null;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();

  constructor(
    private readonly socket: Socket,
    private readonly command: RemoteCommand,
    private readonly tty: TtyRequest | null,
    private readonly hello: boolean,
  ) {}

  run(): Promise<Outcome | typeof LEGACY_SERVER> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const socket = this.socket;
      socket.on('data', (chunk: Buffer) => this.session.receive(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        clientDebug('Socket', `socket error: ${error.code ?? error.message}`),
      );
      socket.on('close', () => this.onClose());
      socket.write(encodeRequest({ ...this.command, hello: this.hello, tty: this.tty }));
      // With HELLO, stdin waits for the reply: an old server that drops us must not have eaten any.
      if (!this.hello) this.startStreaming();
    });
  }

  onHello(version: number, features: number): void {
    clientDebug('Process', `server speaks protocol ${version}, features ${features}`);
    this.startStreaming();
  }

  onStdout(chunk: Buffer): void {
    if (this.stdoutBroken) return;
    if (!process.stdout.write(chunk)) this.block(process.stdout);
  }

  onStdoutEnd(): void {}

  onStderr(chunk: Buffer): void {
    if (!process.stderr.write(chunk)) this.block(process.stderr);
  }

  onStderrEnd(): void {}

  onStdinClosed(): void {
    this.stopStdin();
  }

  onServerError(message: string): void {
    process.stderr.write(`k8psh: ${message}\n`);
  }

  onExit(code: number, signal: number | null): void {
    const name = signal === null ? null : (signalName(signal) ?? null);
    this.finish({ code: name ? ExitCode.SIGNAL_BASE + signal! : code, signal: name });
  }

  onProtocolError(message: string): void {
    this.fail(new ClientError(`protocol error from the server: ${message}`, CONNECTION_FAILURE));
  }

  private startStreaming(): void {
    if (this.streaming) return;
    this.streaming = true;
    if (this.tty) this.restoreTerminal = enterRawMode();
    this.forwardSignals();
    if (this.tty) process.stdout.on('resize', this.onResize);
    this.streamStdin();
  }

  private streamStdin(): void {
    const stdin = process.stdin;
    const socket = this.socket;
    stdin.on('data', (chunk: Buffer) => {
      if (!this.stdinOpen) return;
      // Large reads (a file on stdin) go out as bounded frames.
      for (let offset = 0; offset < chunk.length; offset += DATA_CHUNK_SIZE) {
        const piece = chunk.subarray(offset, offset + DATA_CHUNK_SIZE);
        socket.cork();
        socket.write(encodeHeader(FrameType.STDIN_DATA, piece.length));
        const flowing = socket.write(piece);
        socket.uncork();
        if (!flowing) {
          stdin.pause();
          socket.once('drain', () => this.stdinOpen && stdin.resume());
        }
      }
    });
    stdin.once('end', () => {
      if (this.stdinOpen && !this.finished) socket.write(STDIN_END);
      this.stdinOpen = false;
    });
    stdin.on('error', (error: NodeJS.ErrnoException) => {
      clientDebug('Process', `stdin: ${error.code ?? error.message}`);
      if (this.stdinOpen && !this.finished) socket.write(STDIN_END);
      this.stdinOpen = false;
    });
    process.stdout.on('error', (error: NodeJS.ErrnoException) => this.onOutputError(error));
    process.stderr.on('error', () => {});
  }

  private stopStdin(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    process.stdin.pause();
    if (!this.tty) process.stdin.destroy();
  }

  /** Our stdout reader went away: the remote writer gets SIGPIPE, as it would locally. */
  private onOutputError(error: NodeJS.ErrnoException): void {
    if (error.code !== 'EPIPE' || this.stdoutBroken) return;
    this.stdoutBroken = true;
    if (this.blockedOutputs > 0) {
      this.blockedOutputs = 0;
      this.socket.resume();
    }
    this.sendSignal('SIGPIPE');
  }

  private block(stream: NodeJS.WriteStream): void {
    if (this.blockedOutputs++ === 0) this.socket.pause();
    stream.once('drain', () => {
      if (this.blockedOutputs > 0 && --this.blockedOutputs === 0) this.socket.resume();
    });
  }

  private readonly onResize = (): void => {
    if (!this.finished) this.socket.write(encodeResize(process.stdout.rows, process.stdout.columns));
  };

  private forwardSignals(): void {
    for (const signal of FORWARDED_SIGNALS) {
      const handler = (): void => {
        clientDebug('Process', `forwarding ${signal}`);
        this.pendingSignal ??= signal;
        this.sendSignal(signal);
      };
      this.signalHandlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  private sendSignal(signal: NodeJS.Signals): void {
    if (this.finished || this.socket.destroyed) return;
    if (this.session.serverFeatures & Feature.SIGNALS) {
      this.socket.write(encodeSignal(signalNumber(signal)!));
    } else if (!this.terminateSent) {
      // The original protocol can only kill the command.
      this.terminateSent = true;
      this.socket.write(encodeTerminate());
    }
  }

  private onClose(): void {
    if (this.finished) return;
    if (this.hello && this.session.received === 0) return this.end(() => this.resolve(LEGACY_SERVER));
    // The original server closes without an exit code when the command dies by a signal.
    if (this.pendingSignal)
      return this.finish({ code: 128 + signalNumber(this.pendingSignal)!, signal: this.pendingSignal });
    this.fail(
      new ClientError('connection to the server was lost before the command finished', CONNECTION_FAILURE),
    );
  }

  private finish(outcome: Outcome): void {
    this.end(() => {
      // Everything the command wrote reaches our stdout/stderr before we exit.
      let pending = 2;
      const done = (): void => {
        if (--pending === 0) this.resolve(outcome);
      };
      process.stdout.write('', done);
      process.stderr.write('', done);
    });
  }

  private fail(error: Error): void {
    this.end(() => this.reject(error));
  }

  private end(then: () => void): void {
    if (this.finished) return;
    this.finished = true;
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    process.stdout.off('resize', this.onResize);
    this.restoreTerminal?.();
    this.stdinOpen = false;
    process.stdin.pause();
    this.socket.destroy();
    then();
  }
}

/**
 * One remote command, as seen from the client: send the request, stream stdin
 * to the server and stdout/stderr back, forward signals, and report how the
 * command ended. Thin I/O around the pure ClientSession.
 *
 * Throughput (docs/benchmarks.md): the socket reads into one reused buffer
 * (no allocation, no page faults per read), output pieces of one read leave
 * in one writev, and while stdout/stderr still hold bytes of that buffer the
 * socket is not read. Stdin from a pipe is read the same way; stdin from a
 * file or /dev/null is read synchronously, without a stream: every stub call
 * with `< /dev/null` is spared fs.ReadStream and its module graph.
 */
import { fstatSync, readSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { DATA_CHUNK_SIZE, Feature, FrameType } from '../protocol/constants.js';
import { encodeHeader, encodeValue } from '../protocol/codec.js';
import {
  ClientSession,
  encodeRequest,
  encodeResize,
  encodeSignal,
  encodeTerminate,
  type ClientSessionHandler,
} from '../protocol/client-session.js';
import type { TtyRequest } from '../protocol/tty.js';
import { clientDebug, writeStderr } from '../debug.js';
import { FORWARDED_SIGNALS, signalNumber } from '../signals.js';
import { connectWithRetry } from './connect.js';
import { ClientError, CONNECTION_FAILURE } from './fail.js';
import {
  connectionLost,
  exitOutcome,
  signalOutcome,
  type Outcome,
  type RemoteCommand,
  type RemoteTarget,
} from './outcome.js';
import { enterRawMode } from './terminal.js';

const STDIN_END = encodeValue(FrameType.STDIN_DATA, 0);
const EMPTY = Buffer.alloc(0);
/** Socket reads land here; a read takes what the kernel has, up to this. */
const READ_BUFFER_SIZE = 1 << 20;
/** Stdin pieces read synchronously (file, /dev/null) before the event loop gets a turn. */
const SYNC_READS_PER_TURN = 16;

export async function runRemote(
  target: RemoteTarget,
  command: RemoteCommand,
  tty: TtyRequest | null,
): Promise<Outcome> {
  const reader = new SocketReader();
  const socket = await connectWithRetry(
    target.port,
    target.connectTimeoutMs,
    target.serverName,
    reader.options,
  );
  const outcome = await new RemoteSession(socket, reader, command, tty, 'hello').run();
  if (outcome !== LEGACY_SERVER) return outcome;
  // An original k8psh server drops a connection that opens with HELLO, before running anything.
  clientDebug('Process', 'the server closed on HELLO: retrying with the original protocol');
  const legacyReader = new SocketReader();
  const legacy = await connectWithRetry(
    target.port,
    target.connectTimeoutMs,
    target.serverName,
    legacyReader.options,
  );
  const result = await new RemoteSession(legacy, legacyReader, command, null, 'legacy').run();
  if (result === LEGACY_SERVER)
    throw new ClientError(`the server ${target.serverName} closed the connection`, CONNECTION_FAILURE);
  return result;
}

const LEGACY_SERVER = Symbol('legacy server');

/**
 * The socket's `onread`: every read goes into one buffer. The consumer returns false while some of
 * the bytes it was given are still referenced (queued in an output), which pauses the socket; it
 * resumes it once they are gone. Bytes that arrive before a consumer is attached are copied.
 */
class SocketReader {
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  private early: Buffer[] = [];
  private consumer: ((chunk: Buffer) => boolean) | null = null;
  readonly options: OnReadOpts = {
    buffer: this.buffer,
    callback: (length: number, buffer: Uint8Array): boolean => {
      const chunk = (buffer as Buffer).subarray(0, length);
      if (this.consumer) return this.consumer(chunk);
      this.early.push(Buffer.from(chunk));
      return true;
    },
  };

  attach(consumer: (chunk: Buffer) => boolean): void {
    this.consumer = consumer;
    const early = this.early;
    this.early = [];
    for (const chunk of early) consumer(chunk);
  }
}

/** `hello`: our protocol; `legacy`: the original one (an original server dropped our HELLO). */
type SessionMode = 'hello' | 'legacy';

type StdinSource = 'tty' | 'stream' | 'pipe' | 'sync' | 'closed';

/**
 * How to read fd 0: a terminal through process.stdin; a pipe or socket through our own socket
 * reading into a reused buffer; a regular file or a memory device (/dev/null, /dev/zero) with
 * plain synchronous reads (they never block for long); a closed fd 0 is an empty stdin; anything
 * else through process.stdin.
 */
function stdinSource(tty: boolean): StdinSource {
  if (tty) return 'tty';
  try {
    const stat = fstatSync(0);
    if (stat.isFIFO() || stat.isSocket()) return 'pipe';
    if (stat.isFile()) return 'sync';
    if (stat.isCharacterDevice() && ((stat.rdev >> 8) & 0xfff) === 1) return 'sync';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') return 'closed';
  }
  return 'stream';
}

class RemoteSession implements ClientSessionHandler {
  private readonly session = new ClientSession(this);
  private resolve!: (outcome: Outcome | typeof LEGACY_SERVER) => void;
  private reject!: (error: Error) => void;
  private streaming = false;
  private finished = false;
  private stdinOpen = true;
  /** What reads fd 0 (process.stdin is never touched unless it is the one). */
  private stdin: NodeJS.ReadableStream | Socket | null = null;
  private stdinSourceKind: StdinSource | null = null;
  private stdoutBroken = false;
  /** Outputs used so far: process.stdout/stderr are not even created for a command that prints nothing. */
  private stdoutUsed = false;
  private stderrUsed = false;
  private stdoutCorked = false;
  private stderrCorked = false;
  private pendingSignal: NodeJS.Signals | null = null;
  private terminateSent = false;
  private restoreTerminal: (() => void) | null = null;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();

  constructor(
    private readonly socket: Socket,
    private readonly reader: SocketReader,
    private readonly command: RemoteCommand,
    private readonly tty: TtyRequest | null,
    private readonly mode: SessionMode,
  ) {}

  private get hello(): boolean {
    return this.mode !== 'legacy';
  }

  run(): Promise<Outcome | typeof LEGACY_SERVER> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const socket = this.socket;
      this.reader.attach((chunk) => this.onSocketData(chunk));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        clientDebug('Socket', `socket error: ${error.code ?? error.message}`),
      );
      socket.on('close', () => this.onClose());
      socket.write(encodeRequest({ ...this.command, hello: this.hello, tty: this.tty }));
      // With HELLO, stdin waits for the reply: an old server that drops us must not have eaten any.
      if (!this.hello) this.startStreaming();
    });
  }

  /** One socket read: false pauses the socket until the outputs have let go of the read buffer. */
  private onSocketData(chunk: Buffer): boolean {
    this.session.receive(chunk);
    this.uncorkOutputs();
    let holding = 0;
    const release = (): void => {
      if (--holding === 0 && !this.finished) this.socket.resume();
    };
    if (this.stdoutUsed && !this.stdoutBroken && process.stdout.writableLength > 0) {
      holding++;
      process.stdout.write(EMPTY, release);
    }
    if (this.stderrUsed && process.stderr.writableLength > 0) {
      holding++;
      process.stderr.write(EMPTY, release);
    }
    return holding === 0;
  }

  /** Output pieces of one socket read leave together (one writev). */
  private uncorkOutputs(): void {
    if (this.stdoutCorked) {
      this.stdoutCorked = false;
      process.stdout.uncork();
    }
    if (this.stderrCorked) {
      this.stderrCorked = false;
      process.stderr.uncork();
    }
  }

  onHello(version: number, features: number): void {
    clientDebug('Process', `server speaks protocol ${version}, features ${features}`);
    this.startStreaming();
  }

  onStdout(chunk: Buffer): void {
    if (this.stdoutBroken) return;
    if (!this.stdoutUsed) {
      this.stdoutUsed = true;
      process.stdout.on('error', (error: NodeJS.ErrnoException) => this.onOutputError(error));
    }
    if (!this.stdoutCorked) {
      this.stdoutCorked = true;
      process.stdout.cork();
    }
    process.stdout.write(chunk);
  }

  onStdoutEnd(): void {}

  onStderr(chunk: Buffer): void {
    if (!this.stderrUsed) {
      this.stderrUsed = true;
      process.stderr.on('error', () => {});
    }
    if (!this.stderrCorked) {
      this.stderrCorked = true;
      process.stderr.cork();
    }
    process.stderr.write(chunk);
  }

  onStderrEnd(): void {}

  onStdinClosed(): void {
    this.stopStdin();
  }

  onServerError(message: string): void {
    // Not process.stderr: see writeStderr (a passed fd 2 may still be the remote command's).
    writeStderr(`k8psh: ${message}\n`);
  }

  onExit(code: number, signal: number | null): void {
    this.finish(exitOutcome(code, signal));
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

  /** One stdin chunk out as bounded frames; false when the socket wants no more for now. */
  private sendStdin(chunk: Buffer): boolean {
    const socket = this.socket;
    let flowing = true;
    for (let offset = 0; offset < chunk.length; offset += DATA_CHUNK_SIZE) {
      const piece = chunk.subarray(offset, offset + DATA_CHUNK_SIZE);
      socket.cork();
      socket.write(encodeHeader(FrameType.STDIN_DATA, piece.length));
      flowing = socket.write(piece);
      socket.uncork();
    }
    return flowing;
  }

  private endStdin(): void {
    if (this.stdinOpen && !this.finished) this.socket.write(STDIN_END);
    this.stdinOpen = false;
  }

  private streamStdin(): void {
    const kind = stdinSource(this.tty !== null);
    this.stdinSourceKind = kind;
    if (kind === 'closed') return this.endStdin();
    if (kind === 'sync') return this.pumpSyncStdin(Buffer.allocUnsafe(DATA_CHUNK_SIZE));
    if (kind === 'pipe') return this.streamPipeStdin();
    const stdin = process.stdin;
    this.stdin = stdin;
    stdin.on('data', (chunk: Buffer) => {
      if (!this.stdinOpen) return;
      if (!this.sendStdin(chunk)) {
        stdin.pause();
        this.socket.once('drain', () => this.stdinOpen && stdin.resume());
      }
    });
    stdin.once('end', () => this.endStdin());
    stdin.on('error', (error: NodeJS.ErrnoException) => this.onStdinError(error));
  }

  private onStdinError(error: NodeJS.ErrnoException): void {
    clientDebug('Process', `stdin: ${error.code ?? error.message}`);
    this.endStdin();
  }

  /**
   * A pipe or socket on fd 0: our own socket reading into one reused buffer. While the server
   * socket still holds bytes of it (a write not flushed yet), stdin is not read.
   */
  private streamPipeStdin(): void {
    const buffer = Buffer.allocUnsafe(DATA_CHUNK_SIZE);
    const socket = this.socket;
    // Node honours `onread` in the constructor too (@types/node only lists it for connect()).
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd: 0,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (length: number): boolean => {
          if (!this.stdinOpen) return false;
          this.sendStdin(buffer.subarray(0, length));
          if (socket.writableLength === 0) return true;
          socket.write(EMPTY, () => {
            if (this.stdinOpen) stdin.resume();
          });
          return false;
        },
      },
    };
    const stdin = new Socket(options);
    this.stdin = stdin;
    stdin.once('end', () => this.endStdin());
    stdin.on('error', (error: NodeJS.ErrnoException) => this.onStdinError(error));
    stdin.resume();
  }

  /** A file or a memory device on fd 0: synchronous reads, a few per event-loop turn. */
  private pumpSyncStdin(buffer: Buffer): void {
    for (let reads = 0; reads < SYNC_READS_PER_TURN; reads++) {
      if (!this.stdinOpen || this.finished) return;
      let length: number;
      try {
        length = readSync(0, buffer, 0, buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.pumpSyncStdin(buffer), 1);
          return;
        }
        return this.onStdinError(error as NodeJS.ErrnoException);
      }
      if (length === 0) return this.endStdin();
      this.sendStdin(buffer.subarray(0, length));
      if (this.socket.writableLength > 0) {
        // The socket still holds bytes of the buffer: read on once they are flushed.
        this.socket.write(EMPTY, () => this.pumpSyncStdin(buffer));
        return;
      }
    }
    setImmediate(() => this.pumpSyncStdin(buffer));
  }

  private stopStdin(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.releaseStdin();
  }

  /** Stop reading fd 0; a pipe is closed (its writer then gets EPIPE, as with a local command). */
  private releaseStdin(): void {
    const stdin = this.stdin;
    if (!stdin) return;
    stdin.pause();
    if (this.stdinSourceKind !== 'tty' && 'destroy' in stdin) stdin.destroy();
  }

  /** Our stdout reader went away: the remote writer gets SIGPIPE, as it would locally. */
  private onOutputError(error: NodeJS.ErrnoException): void {
    if (error.code !== 'EPIPE' || this.stdoutBroken) return;
    this.stdoutBroken = true;
    this.sendSignal('SIGPIPE');
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
    if (this.pendingSignal) return this.finish(signalOutcome(this.pendingSignal));
    this.fail(connectionLost());
  }

  private finish(outcome: Outcome): void {
    this.end(() => {
      // Everything the command wrote reaches our stdout/stderr before we exit.
      let pending = 1;
      const done = (): void => {
        if (--pending === 0) this.resolve(outcome);
      };
      if (this.stdoutUsed) {
        pending++;
        process.stdout.write(EMPTY, done);
      }
      if (this.stderrUsed) {
        pending++;
        process.stderr.write(EMPTY, done);
      }
      done();
    });
  }

  private fail(error: Error): void {
    this.end(() => this.reject(error));
  }

  private end(then: () => void): void {
    if (this.finished) return;
    this.finished = true;
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    if (this.tty) process.stdout.off('resize', this.onResize);
    // Output of the same socket read as the exit is still corked: it must reach a terminal before
    // cooked mode (with its \n → \r\n) is restored.
    this.uncorkOutputs();
    this.restoreTerminal?.();
    this.stdinOpen = false;
    this.stdin?.pause();
    this.socket.destroy();
    then();
  }
}

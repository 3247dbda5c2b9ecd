/**
 * One remote command relayed over TCP, as seen from the client: send the request, stream stdin to
 * the server and stdout/stderr back, forward signals, and report how the command ended. Thin I/O
 * around the pure ClientSession; the pieces are ./stdin.ts (reading fd 0), ./output.ts (writing
 * ours), ./signal-forwarder.ts and ./socket-reader.ts.
 *
 * Throughput (docs/benchmarks.md): the socket reads into one reused buffer, output pieces of one
 * read leave in one writev, and while stdout/stderr still hold bytes of that buffer the socket is
 * not read.
 */
import type { ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { Feature, FrameType } from '../protocol/constants.js';
import { REFUSED_STREAM } from '../remote/constants.js';
import {
  ClientSession,
  encodeRequest,
  encodeResize,
  encodeSignal,
  encodeTerminate,
  type ClientSessionHandler,
} from '../protocol/client-session.js';
import { STDIN_END, writeData } from '../protocol/data.js';
import type { TtyRequest } from '../protocol/tty.js';
import { clientDebug, writeStderr } from '../debug.js';
import { ConnectionError, errorLine } from '../errors.js';
import { signalNumber } from '../signals.js';
import { connectGateway, connectWithRetry } from './connect.js';
import {
  connectionLost,
  exitOutcome,
  serverProtocolError,
  signalOutcome,
  type Outcome,
  type RemoteCommand,
  type RemoteTarget,
} from './outcome.js';
import { Output } from './output.js';
import { SignalForwarder } from './signal-forwarder.js';
import { SocketReader } from './socket-reader.js';
import { readStdin, stdinSource, type StdinReader, type StdinTarget } from './stdin.js';
import { enterRawMode } from './terminal.js';

const EMPTY = Buffer.alloc(0);
const LEGACY_SERVER = Symbol('legacy server');
/** Streams refused unprocessed (a draining replica) before a call gives up. */
const MAX_REFUSED = 6;

/**
 * Which protocol a session speaks: `hello`, ours; `legacy`, the original's (an original server
 * dropped our HELLO).
 */
type Dialect = 'hello' | 'legacy';

export async function runRemote(
  target: RemoteTarget,
  command: RemoteCommand,
  tty: TtyRequest | null,
  nullStdin = false,
): Promise<Outcome> {
  let dialect: Dialect = 'hello';
  for (let refused = 0; ;) {
    const reader = new SocketReader();
    const socket = target.remote
      ? await connectRemote(target, reader)
      : await connectWithRetry(target, reader.options);
    const session = new RemoteSession(
      socket,
      reader,
      command,
      dialect === 'hello' ? tty : null,
      dialect,
      nullStdin,
    );
    const outcome = await session.run();
    if (outcome !== LEGACY_SERVER) return outcome;
    if (target.remote) {
      // A draining replica refused the stream unprocessed (docs/remote.md, "Exactly once"), and no
      // stdin was read before its HELLO: a new connection goes where kube-proxy sends it now.
      if ((socket as ClientHttp2Stream).rstCode === REFUSED_STREAM && ++refused < MAX_REFUSED) continue;
      // Our remote servers all speak HELLO: a close before any byte is a lost connection there.
      break;
    }
    if (dialect === 'legacy') break;
    // An original k8psh server drops a connection that opens with HELLO, before running anything.
    clientDebug('Process', 'the server closed on HELLO: retrying with the original protocol');
    dialect = 'legacy';
  }
  throw new ConnectionError(`the server ${target.serverName} closed the connection`);
}

/** A remote section: the Pod's gateway if one listens, else the server itself over mutual TLS. */
async function connectRemote(target: RemoteTarget, reader: SocketReader): Promise<Transport> {
  const gateway = await connectGateway(target, reader.options);
  if (gateway) return gateway;
  const { openRemoteStream } = await import('./tls-connect.js');
  const { stream } = await openRemoteStream(target.serverName, target.remote!, target.connectTimeoutMs);
  reader.feed(stream);
  return stream;
}

/** A socket to the server or the gateway, or one HTTP/2 stream to a remote server. */
type Transport = Socket | ClientHttp2Stream;

class RemoteSession implements ClientSessionHandler, StdinTarget {
  private readonly session = new ClientSession(this);
  private resolve!: (outcome: Outcome | typeof LEGACY_SERVER) => void;
  private reject!: (error: Error) => void;
  private streaming = false;
  private finished = false;
  private stdinOpen = true;
  private stdin: StdinReader | null = null;
  private readonly stdout = new Output(
    () => process.stdout,
    (error) => this.onStdoutError(error),
  );
  private readonly stderr = new Output(
    () => process.stderr,
    () => {},
  );
  private readonly signals = new SignalForwarder((signal) => this.sendSignal(signal));
  private terminateSent = false;
  private restoreTerminal: (() => void) | null = null;

  constructor(
    private readonly socket: Transport,
    private readonly reader: SocketReader,
    private readonly command: RemoteCommand,
    private readonly tty: TtyRequest | null,
    private readonly dialect: Dialect,
    /** `-n`, K8PSH_STDIN=null: send an empty stdin and never read fd 0 (as `ssh -n`). */
    private readonly nullStdin: boolean,
  ) {}

  private get hello(): boolean {
    return this.dialect !== 'legacy';
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
    if (this.stdout.holding(release)) holding++;
    if (this.stderr.holding(release)) holding++;
    return holding === 0;
  }

  /** Output pieces of one socket read leave together (one writev). */
  private uncorkOutputs(): void {
    this.stdout.uncork();
    this.stderr.uncork();
  }

  // --- the server's frames (ClientSessionHandler) ---

  onHello(version: number, features: number): void {
    clientDebug('Process', `server speaks protocol ${version}, features ${features}`);
    this.startStreaming();
  }

  onStdout(chunk: Buffer): void {
    this.stdout.write(chunk);
  }

  onStderr(chunk: Buffer): void {
    this.stderr.write(chunk);
  }

  onStdinClosed(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.stdin?.stop(true);
  }

  onServerError(message: string): void {
    // Not process.stderr: see writeStderr (a passed fd 2 may still be the remote command's).
    writeStderr(errorLine(message));
  }

  onExit(code: number, signal: number | null): void {
    this.finish(exitOutcome(code, signal));
  }

  onProtocolError(message: string): void {
    this.fail(serverProtocolError(message));
  }

  // --- stdin (StdinTarget) ---

  get open(): boolean {
    return this.stdinOpen;
  }

  get queued(): boolean {
    return this.socket.writableLength > 0;
  }

  send(chunk: Buffer): boolean {
    return writeData(this.socket, FrameType.STDIN_DATA, chunk);
  }

  afterFlush(callback: () => void): void {
    this.socket.write(EMPTY, callback);
  }

  onceDrained(callback: () => void): void {
    this.socket.once('drain', callback);
  }

  end(): void {
    if (this.stdinOpen && !this.finished) this.socket.write(STDIN_END);
    this.stdinOpen = false;
  }

  private startStreaming(): void {
    if (this.streaming) return;
    this.streaming = true;
    if (this.tty) this.restoreTerminal = enterRawMode();
    this.signals.start();
    if (this.tty) process.stdout.on('resize', this.onResize);
    this.stdin = readStdin(this.nullStdin ? 'closed' : stdinSource(this.tty !== null), this);
  }

  /** Our stdout reader went away: the remote writer gets SIGPIPE, as it would locally. */
  private onStdoutError(error: NodeJS.ErrnoException): void {
    if (error.code !== 'EPIPE' || this.stdout.broken) return;
    this.stdout.broken = true;
    this.sendSignal('SIGPIPE');
  }

  private readonly onResize = (): void => {
    if (!this.finished) this.socket.write(encodeResize(process.stdout.rows, process.stdout.columns));
  };

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
    if (this.hello && this.session.received === 0) return this.teardown(() => this.resolve(LEGACY_SERVER));
    // The original server closes without an exit code when the command dies by a signal.
    const signal = this.signals.first;
    if (signal) return this.finish(signalOutcome(signal));
    this.fail(connectionLost());
  }

  private finish(outcome: Outcome): void {
    this.teardown(() => {
      // Everything the command wrote reaches our stdout/stderr before we exit.
      let pending = 1;
      const done = (): void => {
        if (--pending === 0) this.resolve(outcome);
      };
      if (this.stdout.flushing(done)) pending++;
      if (this.stderr.flushing(done)) pending++;
      done();
    });
  }

  private fail(error: Error): void {
    this.teardown(() => this.reject(error));
  }

  private teardown(then: () => void): void {
    if (this.finished) return;
    this.finished = true;
    this.signals.stop();
    if (this.tty) process.stdout.off('resize', this.onResize);
    // Output of the same socket read as the exit is still corked: it must reach a terminal before
    // cooked mode (with its \n → \r\n) is restored.
    this.uncorkOutputs();
    this.restoreTerminal?.();
    this.stdinOpen = false;
    this.stdin?.stop(false);
    this.socket.destroy();
    then();
  }
}

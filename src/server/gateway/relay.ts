/**
 * One stub's session carried by the gateway to a remote server (docs/remote.md, "The gateway"): the
 * stub's frames go up one HTTP/2 stream as they came, the server's come back down, whole frames both
 * ways, with back-pressure on each side. A stub that passed its stdin, stdout and stderr (a native
 * stub on the local socket) has them served here: stdin read and sent as STDIN_DATA, STDOUT_DATA and
 * STDERR_DATA written to its descriptors, and its exit code handed over only once they are written.
 * The server is told nothing of the descriptors (its HELLO loses PASSED_STDIO): for it this is a
 * relayed session.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { encodeString, encodeValue, FrameDecoder, type FrameHandler } from '../../protocol/codec.js';
import { DEFAULT_LIMITS, ExitCode, Feature, FrameType, type Limits } from '../../protocol/constants.js';
import { STDIN_END, writeData } from '../../protocol/data.js';
import { decodeHelloPayload, encodeHelloPayload } from '../../protocol/hello.js';
import { encodeRefusal } from '../../protocol/server-frames.js';
import { checkPassedDescriptors } from '../../protocol/server-session.js';
import { closeDescriptors } from '../addon-spawn.js';
import type { FirstMessage } from '../connection.js';
import type { Session } from '../server.js';
import { fdReader } from './fd-streams.js';
import { PassedOutput } from './passed-output.js';
import type { Upstream } from './upstream.js';

const SIGPIPE = 13;
/** A finished session waits this long for the stub to close before dropping it. */
const LINGER_MS = 5000;

export interface RelayContext {
  name: string;
  upstream: Upstream;
  limits: Limits;
  requestTimeoutMs: number;
  log: Logger;
}

export class GatewaySession implements Session {
  readonly done: Promise<void>;
  private markDone!: () => void;
  private stream: ClientHttp2Stream | null = null;
  private opening = false;
  /** Frames for the server while its stream is being opened. */
  private pending: Buffer[] = [];
  private sawFirstFrame = false;
  /** The stub said HELLO: it reads ERROR frames (else a refusal is stderr text). */
  private modern = false;
  /** The exit code (or a refusal) went to the stub: nothing else may. */
  private finished = false;
  private closed = false;
  private fds: number[] | null = null;
  private stdin: Readable | null = null;
  private stdout: PassedOutput | null = null;
  private stderr: PassedOutput | null = null;
  private stdoutBroken = false;
  /** Frames for the stub that must wait until the output before them is written (fds only). */
  private toStub: Promise<void> = Promise.resolve();
  private requestTimer: NodeJS.Timeout | null = null;
  private readonly fromStub: FrameDecoder;
  private readonly fromServer: FrameDecoder;

  constructor(
    private readonly socket: Socket,
    private readonly context: RelayContext,
  ) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    const limits = {
      maxFramePayload: context.limits.maxFramePayload,
      maxDataPayload: context.limits.maxDataPayload,
    };
    this.fromStub = new FrameDecoder(this.stubFrames, limits);
    this.fromServer = new FrameDecoder(this.serverFrames, {
      maxFramePayload: DEFAULT_LIMITS.maxFramePayload,
      maxDataPayload: DEFAULT_LIMITS.maxDataPayload,
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.fromStubChunk(chunk));
    socket.on('error', () => {});
    socket.on('end', () => this.onStubEnd());
    socket.on('close', () => this.onStubGone());
  }

  awaitRequest(): void {
    this.requestTimer = setTimeout(() => {
      if (!this.stream) this.refuse('request not completed in time', ExitCode.FAILURE);
    }, this.context.requestTimeoutMs);
    this.requestTimer.unref();
  }

  receiveFirst(first: FirstMessage): void {
    if (first.fds.length > 0) this.fds = first.fds;
    this.socket.resume();
    this.fromStubChunk(first.bytes);
  }

  /**
   * The frames of one read go up in one write (one DATA frame, one TLS record) rather than one each:
   * every write is a packet and a wake-up on the other side.
   */
  private fromStubChunk(chunk: Buffer): void {
    const stream = this.stream;
    stream?.cork();
    this.fromStub.push(chunk);
    stream?.uncork();
  }

  refuseIfWaiting(message: string): void {
    if (!this.stream && !this.finished) this.refuse(message, ExitCode.FAILURE);
  }

  hangUp(): void {
    this.stream?.close(h2.NGHTTP2_CANCEL);
    this.socket.destroy();
  }

  // --- the stub's frames ---

  private readonly stubFrames: FrameHandler = {
    onString: (type, payload) => {
      if (!this.firstFrame(type)) return;
      if (type === FrameType.TTY_REQUEST && this.fds)
        return this.protocolError('a terminal asked for with passed descriptors');
      if (type === FrameType.HELLO && this.fds) {
        const hello = decodeHelloPayload(payload);
        if (typeof hello === 'string') return this.protocolError(hello);
        // As a server checks them (../connection.ts): exactly stdin, stdout and stderr, announced.
        const mismatch = checkPassedDescriptors(hello.features, this.fds.length, false);
        if (mismatch !== null) return this.protocolError(mismatch);
        // The descriptors stay here: the server relays, we read and write them.
        payload = encodeHelloPayload({
          version: hello.version,
          features: hello.features & ~Feature.PASSED_STDIO,
        });
      }
      this.up(encodeString(type, payload));
      if (type === FrameType.START_COMMAND && this.fds) this.serveDescriptors(this.fds);
    },
    onValue: (type, value) => {
      if (this.firstFrame(type)) this.up(encodeValue(type, value));
    },
    onData: (type, chunk) => {
      if (!this.firstFrame(type)) return;
      if (this.fds && type === FrameType.STDIN_DATA)
        return this.protocolError('STDIN_DATA with passed descriptors');
      if (!this.stream) return this.up(Buffer.concat([encodeValue(type, chunk.length), chunk]));
      if (!writeData(this.stream, type, chunk)) this.holdStub();
    },
    onDataEnd: (type) => {
      if (this.firstFrame(type)) this.up(encodeValue(type, 0));
    },
    onError: (message) => this.protocolError(message),
  };

  /** False when the first frame breaks the rule for passed descriptors (they need HELLO). */
  private firstFrame(type: number): boolean {
    if (this.sawFirstFrame) return true;
    this.sawFirstFrame = true;
    this.modern = type === FrameType.HELLO;
    if (this.fds && !this.modern) {
      this.protocolError('descriptors passed without HELLO');
      return false;
    }
    this.open();
    return true;
  }

  private up(frame: Buffer): void {
    if (this.finished) return;
    if (!this.stream) {
      this.pending.push(frame);
      return;
    }
    if (!this.stream.write(frame)) this.holdStub();
  }

  /** The server's stream is full: read no more from the stub (or its stdin) until it drains. */
  private holdStub(): void {
    const stream = this.stream!;
    this.socket.pause();
    this.stdin?.pause();
    stream.once('drain', () => {
      if (this.closed) return;
      this.socket.resume();
      this.stdin?.resume();
    });
  }

  private open(): void {
    if (this.opening) return;
    this.opening = true;
    if (this.requestTimer) clearTimeout(this.requestTimer);
    // Nothing more from the stub until there is somewhere to put it.
    this.socket.pause();
    void this.context.upstream.open().then((stream) => {
      if (typeof stream === 'string') return this.refuse(stream, ExitCode.CONNECTION_FAILURE);
      if (this.closed || this.finished) return void stream.close(h2.NGHTTP2_CANCEL);
      this.stream = stream;
      stream.on('response', (headers) => {
        const status = headers[':status'];
        if (status !== 200) this.lost(`the server answered HTTP status ${String(status)}`);
      });
      stream.on('data', (chunk: Buffer) => {
        // Likewise down to a relaying stub: the frames of one read in one write.
        this.socket.cork();
        this.fromServer.push(chunk);
        this.socket.uncork();
      });
      stream.on('end', () => this.onServerEnd());
      stream.on('error', (error: Error) => this.lost(error.message));
      stream.on('close', () =>
        this.lost(stream.rstCode ? `stream reset (HTTP/2 error ${stream.rstCode})` : null),
      );
      stream.cork();
      for (const frame of this.pending.splice(0)) stream.write(frame);
      stream.uncork();
      if (this.stubEnded) stream.end();
      this.socket.resume();
      this.stdin?.resume();
    });
  }

  // --- the server's frames ---

  private readonly serverFrames: FrameHandler = {
    onString: (type, payload) => this.down(encodeString(type, payload)),
    onValue: (type, value) => {
      this.down(encodeValue(type, value));
      if (type === FrameType.EXIT_CODE) this.fromServer.expectEnd?.('bytes after EXIT_CODE');
    },
    onData: (type, chunk) => {
      if (!this.fds) {
        if (!writeData(this.socket, type, chunk)) this.holdServer(this.socket);
        return;
      }
      if (type === FrameType.STDOUT_DATA) this.output(this.stdout, chunk, true);
      else if (type === FrameType.STDERR_DATA) this.output(this.stderr, chunk, false);
      else this.lost('the server sent STDIN_DATA with data');
    },
    onDataEnd: (type) => {
      if (!this.fds) return this.down(encodeValue(type, 0));
      // The command closed its stdin: stop reading the stub's.
      if (type === FrameType.STDIN_DATA) this.stopStdin();
      else if (type === FrameType.STDOUT_DATA) this.stdout?.release();
      else this.stderr?.release();
    },
    onError: (message) => this.lost(`protocol error from the server: ${message}`),
  };

  /** A control frame (HELLO reply, ERROR, EXIT_SIGNAL, EXIT_CODE) for the stub, after the output before it. */
  private down(frame: Buffer): void {
    if (this.finished || this.closed) return;
    const exit = frame[0] === FrameType.EXIT_CODE;
    if (exit) this.finished = true;
    const send = (): void => {
      if (this.closed) return;
      if (exit) this.finish(frame);
      else if (!this.socket.write(frame) && !this.fds) this.holdServer(this.socket);
    };
    if (!this.fds) return send();
    this.toStub = this.toStub.then(() => this.outputWritten()).then(send);
  }

  private output(output: PassedOutput | null, chunk: Buffer, stdout: boolean): void {
    if (!output || (stdout && this.stdoutBroken)) return;
    if (!output.write(chunk)) this.holdServer(output);
  }

  /** Resolves once the output before it is written (frames for the stub wait for that). */
  private outputWritten(): Promise<unknown> {
    return Promise.all([this.stdout?.written(), this.stderr?.written()]);
  }

  private holdServer(writer: { onceDrained(callback: () => void): void } | Socket): void {
    const stream = this.stream;
    if (!stream || stream.isPaused()) return;
    stream.pause();
    if ('onceDrained' in writer) writer.onceDrained(() => stream.resume());
    else writer.once('drain', () => stream.resume());
  }

  // --- passed descriptors ---

  private serveDescriptors(fds: number[]): void {
    this.fds = fds;
    const [stdin, stdout, stderr] = fds as [number, number, number];
    this.stdout = new PassedOutput(stdout, (error) => this.onStdoutError(error));
    this.stderr = new PassedOutput(stderr, () => {});
    let reader: Readable | null;
    try {
      reader = fdReader(stdin);
    } catch (error) {
      closeDescriptors([stdin]);
      return this.refuse(
        `cannot read the passed stdin: ${(error as Error).message}`,
        ExitCode.CONNECTION_FAILURE,
      );
    }
    // /dev/null: its end goes with the request, in the same write.
    if (!reader) return this.up(STDIN_END);
    this.stdin = reader;
    reader.on('data', (chunk: Buffer) => {
      if (this.stream && !writeData(this.stream, FrameType.STDIN_DATA, chunk)) this.holdStub();
    });
    // Read once there is somewhere to send it (the stream may still be opening).
    if (!this.stream) reader.pause();
    // A read error (EIO from a terminal gone) ends stdin as its end would.
    const ended = (): void => {
      if (this.stdin === reader) this.up(STDIN_END);
      this.stopStdin();
    };
    reader.on('end', ended);
    reader.on('error', ended);
  }

  /** The stub's reader went away: the remote writer gets SIGPIPE, as it would locally. */
  private onStdoutError(error: NodeJS.ErrnoException): void {
    if (this.stdoutBroken) return;
    this.stdoutBroken = true;
    if (error.code === 'EPIPE')
      this.up(
        this.modern ? encodeValue(FrameType.SIGNAL, SIGPIPE) : encodeValue(FrameType.TERMINATE_COMMAND, 0),
      );
  }

  private stopStdin(): void {
    const reader = this.stdin;
    this.stdin = null;
    reader?.destroy();
  }

  // --- endings ---

  private stubEnded = false;

  /** The stub shut down its side: the server sees the same (it still sends the output and exit). */
  private onStubEnd(): void {
    this.stubEnded = true;
    if (this.stream && !this.finished) this.stream.end();
  }

  private onServerEnd(): void {
    if (!this.finished) this.lost('the server ended the session without an exit code');
  }

  /** The connection or stream went before the exit code: the stub says so in one line and exits 255. */
  private lost(reason: string | null): void {
    if (this.finished || this.closed) return;
    const { name, upstream } = this.context;
    const message = `connection to server ${name} at ${upstream.where} was lost before the command finished${reason ? ` (${reason})` : ''}`;
    this.context.log.warn({ server: name, problem: message }, 'session lost');
    this.refuse(message, ExitCode.CONNECTION_FAILURE);
  }

  private protocolError(message: string): void {
    this.refuse(`protocol error: ${message}`, ExitCode.FAILURE);
  }

  private refuse(message: string, code: number): void {
    if (this.finished || this.closed) return;
    this.finished = true;
    this.stream?.close(h2.NGHTTP2_CANCEL);
    const frames = encodeRefusal(message, code, this.modern);
    this.toStub = this.toStub.then(() => this.outputWritten()).then(() => this.finish(frames));
  }

  /** The last frames, once; the stub closes after reading them. */
  private finish(frames: Buffer): void {
    if (this.closed) return;
    this.stopStdin();
    this.stdout?.release();
    this.stderr?.release();
    this.socket.end(frames);
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  private onStubGone(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.requestTimer) clearTimeout(this.requestTimer);
    // The command's session is cancelled: the server ends its process group.
    if (this.stream && !this.stream.closed) this.stream.close(h2.NGHTTP2_CANCEL);
    this.stopStdin();
    this.stdout?.close();
    this.stderr?.close();
    if (this.fds && !this.stdout) closeDescriptors(this.fds);
    this.fds = null;
    this.fromStub.release();
    this.markDone();
  }
}

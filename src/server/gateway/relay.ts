/**
 * One stub's session carried by the gateway to a remote server (docs/remote.md, "The gateway"): the
 * stub's frames go up one HTTP/2 stream as they came, the server's come back down, whole frames both
 * ways, with back-pressure on each side. A stub that passed its stdin, stdout and stderr (a native
 * stub on the local socket) has them served here: stdin read and sent as STDIN_DATA, STDOUT_DATA and
 * STDERR_DATA written to its descriptors, and its exit code handed over only once they are written.
 * The server is told nothing of the descriptors (its HELLO loses PASSED_STDIO): for it this is a
 * relayed session.
 *
 * Exactly once (docs/remote.md): the server answers a complete request START_READY and runs it only
 * on our START_GO. Until START_READY the session is not the server's: a stream refused, reset or
 * lost goes to another replica with the same request (the stub sees nothing of the first). From
 * START_GO on it is never sent again: a lost connection is one line and exit 255.
 */
import type { ClientHttp2Stream, IncomingHttpHeaders, IncomingHttpStatusHeader } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { encodeString, encodeValue, FrameDecoder, type FrameHandler } from '../../protocol/codec.js';
import {
  ConfirmFrame,
  DEFAULT_LIMITS,
  ExitCode,
  Feature,
  FrameType,
  type Limits,
} from '../../protocol/constants.js';
import { STDIN_END, writeData } from '../../protocol/data.js';
import { decodeHelloPayload, encodeHelloPayload } from '../../protocol/hello.js';
import { encodeRefusal } from '../../protocol/server-frames.js';
import { checkPassedDescriptors } from '../../protocol/server-session.js';
import { closeDescriptors } from '../addon-spawn.js';
import type { FirstMessage } from '../connection.js';
import type { Session } from '../server.js';
import { fdReader } from './fd-streams.js';
import { PassedOutput } from './passed-output.js';
import { CONFIRM_HEADER, CONFIRM_VALUE, REFUSED_STREAM } from '../../remote/constants.js';
import type { Replica } from './replica.js';
import type { Upstream } from './upstream.js';

const SIGPIPE = 13;
/** A finished session waits this long for the stub to close before dropping it. */
const LINGER_MS = 5000;
/** Replicas a session is offered to before its stub is told none took it. */
const MAX_ATTEMPTS = 6;
const GO = encodeValue(ConfirmFrame.START_GO, 0);
const ENDED = 'the server ended the session without an exit code';
/** Output a server may send before START_READY (a refusal's text, to an original client). */
const MAX_EARLY_BYTES = 64 << 10;

export interface RelayContext {
  name: string;
  upstream: Upstream;
  limits: Limits;
  requestTimeoutMs: number;
  log: Logger;
}

function resetReason(code: number): string {
  return code === REFUSED_STREAM
    ? 'stream refused unprocessed (REFUSED_STREAM: the server is draining)'
    : `stream reset (HTTP/2 error ${code})`;
}

export class GatewaySession implements Session {
  readonly done: Promise<void>;
  private markDone!: () => void;
  /** The stream of the current attempt; null before the first and between attempts. */
  private stream: ClientHttp2Stream | null = null;
  private replica: Replica | null = null;
  /** Replicas this session was refused by or lost on: the next attempt prefers others. */
  private readonly avoid = new Set<Replica>();
  private attempts = 0;
  /** The request as sent up (to START_COMMAND included), sent again to another replica. */
  private readonly request: Buffer[] = [];
  private startSent = false;
  /** Frames after START_COMMAND, sent once the server has taken the session (START_GO first). */
  private held: Buffer[] = [];
  /**
   * The server took the session (START_READY answered START_GO) or answered it (a refusal): it is
   * never sent elsewhere from here on.
   */
  private settled = false;
  /** The server's frames before that, applied when it settles, dropped if it goes elsewhere. */
  private early: (() => void)[] = [];
  /** Their data bytes: a refusal's text at most, bounded so that no server can fill our memory. */
  private earlyBytes = 0;
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
  private fromServer: FrameDecoder | null = null;
  private stubEnded = false;

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
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.fromStubChunk(chunk));
    socket.on('error', () => {});
    socket.on('end', () => this.onStubEnd());
    socket.on('close', () => this.onStubGone());
  }

  awaitRequest(): void {
    // Cleared when the first frame opens the session (open()).
    this.requestTimer = setTimeout(
      () => this.refuse('request not completed in time', ExitCode.FAILURE),
      this.context.requestTimeoutMs,
    );
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
    if (!this.settled && !this.finished) this.refuse(message, ExitCode.FAILURE);
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
      if (type !== FrameType.START_COMMAND) return;
      this.startSent = true;
      // What follows waits for the server to take the session: read no more of it meanwhile.
      if (!this.settled) this.socket.pause();
      if (this.fds) this.serveDescriptors(this.fds);
    },
    onValue: (type, value) => {
      if (this.firstFrame(type)) this.up(encodeValue(type, value));
    },
    onData: (type, chunk) => {
      if (!this.firstFrame(type)) return;
      if (this.fds && type === FrameType.STDIN_DATA)
        return this.protocolError('STDIN_DATA with passed descriptors');
      if (!this.settled) return this.up(Buffer.concat([encodeValue(type, chunk.length), chunk]));
      if (!writeData(this.stream!, type, chunk)) this.holdStub();
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

  /** A frame for the server: kept for another replica until the server has taken the session. */
  private up(frame: Buffer): void {
    if (this.finished) return;
    if (!this.startSent) this.request.push(frame);
    else if (!this.settled) return void this.held.push(frame);
    if (this.stream && !this.stream.write(frame)) this.holdStub();
  }

  /** The server's stream is full: read no more from the stub (or its stdin) until it drains. */
  private holdStub(): void {
    const stream = this.stream!;
    this.socket.pause();
    this.stdin?.pause();
    stream.once('drain', () => {
      // Past START_COMMAND, the stub is read again only once the server took the session.
      if (this.closed || stream !== this.stream || (this.startSent && !this.settled)) return;
      this.socket.resume();
      this.stdin?.resume();
    });
  }

  /** The session to a replica (again, after a refusal or a loss before the server took it). */
  private open(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.attempts++;
    // Nothing more from the stub until there is somewhere to put it.
    this.socket.pause();
    void this.context.upstream.open(this.avoid).then((placed) => {
      if (typeof placed === 'string') return this.refuse(placed, ExitCode.CONNECTION_FAILURE);
      const { stream, replica } = placed;
      if (this.closed || this.finished) return void stream.close(h2.NGHTTP2_CANCEL);
      this.attach(stream, replica);
    });
  }

  private attach(stream: ClientHttp2Stream, replica: Replica): void {
    this.stream = stream;
    this.replica = replica;
    this.early = [];
    this.earlyBytes = 0;
    this.fromServer?.release();
    this.fromServer = new FrameDecoder(this.serverFrames, {
      maxFramePayload: DEFAULT_LIMITS.maxFramePayload,
      maxDataPayload: DEFAULT_LIMITS.maxDataPayload,
      confirmFrames: true,
    });
    stream.on('response', (headers: IncomingHttpHeaders & IncomingHttpStatusHeader) =>
      this.onResponse(stream, headers),
    );
    stream.on('data', (chunk: Buffer) => {
      if (stream !== this.stream) return;
      // Likewise down to a relaying stub: the frames of one read in one write.
      this.socket.cork();
      this.fromServer!.push(chunk);
      this.socket.uncork();
    });
    // A reset arriving with the end is told by 'close' (with its code), when it comes in time.
    stream.on('end', () =>
      setImmediate(() => {
        if (stream === this.stream) this.failed(ENDED);
      }),
    );
    stream.on('error', (error: Error) => {
      if (stream === this.stream) this.failed(stream.rstCode ? resetReason(stream.rstCode) : error.message);
    });
    // A stream closed with its connection: the connection's own reason (a PING unanswered, a reset).
    const session = stream.session!;
    stream.on('close', () => {
      if (stream !== this.stream) return;
      if (stream.rstCode) this.failed(resetReason(stream.rstCode));
      else this.failed(session.destroyed || session.closed ? replica.reasonFor(session) : null);
    });
    stream.cork();
    for (const frame of this.request) stream.write(frame);
    stream.uncork();
    if (!this.startSent) {
      if (this.stubEnded) stream.end();
      this.socket.resume();
    }
  }

  private onResponse(
    stream: ClientHttp2Stream,
    headers: IncomingHttpHeaders & IncomingHttpStatusHeader,
  ): void {
    if (stream !== this.stream) return;
    const status = headers[':status'];
    if (status !== 200) return this.failed(`the server answered HTTP status ${String(status)}`);
    const confirms = headers[CONFIRM_HEADER] === CONFIRM_VALUE;
    this.replica!.confirms = confirms;
    // A server that does not confirm runs what it is sent: the session is its own from here.
    if (!confirms) this.settle();
  }

  /**
   * The stream ended before the exit code. Before the server took the session, nothing of it ran
   * there: it goes to another replica. After, it is lost.
   */
  private failed(reason: string | null): void {
    if (this.finished || this.closed) return;
    if (this.settled) return this.lost(reason);
    const stream = this.stream!;
    const replica = this.replica!;
    // Reset before any answer by a server not known to confirm (an older one): it may have run it.
    const sure = replica.confirms || stream.rstCode === REFUSED_STREAM;
    if (!sure) return this.lost(reason);
    this.stream = null;
    this.replica = null;
    stream.close(h2.NGHTTP2_CANCEL);
    this.avoid.add(replica);
    const problem = reason ?? replica.lastError;
    if (this.attempts >= MAX_ATTEMPTS) {
      const message = `cannot reach server ${this.context.name} at ${this.context.upstream.where}: no replica took the session (the last, ${replica.where}: ${problem})`;
      return this.refuse(message, ExitCode.CONNECTION_FAILURE);
    }
    this.context.log.info(
      { server: this.context.name, at: replica.where, problem },
      'session not taken: sent to another replica',
    );
    this.open();
  }

  /** The server took the session (START_READY, or a server that does not confirm) or answered it. */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.request.length = 0;
    const stream = this.stream!;
    const held = this.held;
    this.held = [];
    stream.cork();
    for (const frame of held) stream.write(frame);
    stream.uncork();
    if (this.stubEnded) stream.end();
    for (const apply of this.early.splice(0)) apply();
    if (!this.finished) {
      this.socket.resume();
      this.stdin?.resume();
    }
  }

  // --- the server's frames ---

  /** Before the server settles the session, its frames wait (and go if it goes elsewhere). */
  private server(apply: () => void): void {
    if (this.settled) apply();
    else this.early.push(apply);
  }

  private readonly serverFrames: FrameHandler = {
    onString: (type, payload) => {
      const frame = encodeString(type, payload);
      this.server(() => this.down(frame));
    },
    onValue: (type, value) => {
      if (type === ConfirmFrame.START_READY) {
        if (this.settled) return this.lost('protocol error from the server: START_READY twice');
        // Taken: from this write on, the session is the server's, never sent elsewhere.
        this.stream!.write(GO);
        return this.settle();
      }
      if (type === ConfirmFrame.START_GO) return this.lost('protocol error from the server: START_GO');
      const frame = encodeValue(type, value);
      if (type === FrameType.EXIT_CODE) {
        this.fromServer!.expectEnd?.('bytes after EXIT_CODE');
        // An answer without START_READY (a refusal): the session is settled as answered.
        this.server(() => this.down(frame));
        return this.settle();
      }
      this.server(() => this.down(frame));
    },
    onData: (type, chunk) => {
      if (!this.settled) {
        this.earlyBytes += chunk.length;
        if (this.earlyBytes > MAX_EARLY_BYTES)
          return this.lost('protocol error from the server: output before START_READY');
        const copy = Buffer.from(chunk);
        return this.server(() => this.serverData(type, copy));
      }
      this.serverData(type, chunk);
    },
    onDataEnd: (type) => this.server(() => this.serverDataEnd(type)),
    onError: (message) => this.lost(`protocol error from the server: ${message}`),
  };

  private serverData(type: number, chunk: Buffer): void {
    if (!this.fds) {
      if (!writeData(this.socket, type, chunk)) this.holdServer(this.socket);
      return;
    }
    if (type === FrameType.STDOUT_DATA) this.output(this.stdout, chunk, true);
    else if (type === FrameType.STDERR_DATA) this.output(this.stderr, chunk, false);
    else this.lost('the server sent STDIN_DATA with data');
  }

  private serverDataEnd(type: number): void {
    if (!this.fds) return this.down(encodeValue(type, 0));
    // The command closed its stdin: stop reading the stub's.
    if (type === FrameType.STDIN_DATA) this.stopStdin();
    else if (type === FrameType.STDOUT_DATA) this.stdout?.release();
    else this.stderr?.release();
  }

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
      if (!writeData(this.stream!, FrameType.STDIN_DATA, chunk)) this.holdStub();
    });
    // Read once the server has taken the session (settle() resumes it): until then it may go elsewhere.
    if (!this.settled) reader.pause();
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

  /**
   * The stub shut down its side: the server sees the same (it still sends the output and exit) once
   * it has the session; a stream ended before START_GO could not carry it.
   */
  private onStubEnd(): void {
    this.stubEnded = true;
    if (this.stream && !this.finished && (this.settled || !this.startSent)) this.stream.end();
  }

  /**
   * The connection or stream went before the exit code: the stub says so in one line and exits 255.
   * A command the server had taken (START_GO sent) is named as such: it may have run, and is not
   * run again.
   */
  private lost(reason: string | null): void {
    if (this.finished || this.closed) return;
    const { name, upstream } = this.context;
    const taken =
      this.settled && this.replica
        ? `: it had been handed to replica ${this.replica.where} and is not run again`
        : '';
    const message = `connection to server ${name} at ${upstream.where} was lost before the command finished${taken}${reason ? ` (${reason})` : ''}`;
    this.context.log.warn({ server: name, problem: message }, 'session lost');
    this.refuse(message, ExitCode.CONNECTION_FAILURE);
  }

  private protocolError(message: string): void {
    this.refuse(`protocol error: ${message}`, ExitCode.FAILURE);
  }

  /**
   * The session's end with a message. Nothing more of the stub's is decoded: the rest of its chunk
   * (a START_COMMAND after a refused HELLO) would otherwise go on to serve descriptors that were
   * just refused, and keep those beyond the three.
   */
  private refuse(message: string, code: number): void {
    if (this.finished || this.closed) return;
    this.finished = true;
    this.fromStub.stop();
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

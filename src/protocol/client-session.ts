/**
 * Client side of one session, without sockets: builds the request bytes and
 * interprets the server's frames. EXIT_CODE is always the server's last frame.
 */
import {
  CLIENT_FEATURES,
  DEFAULT_LIMITS,
  FrameType,
  frameName,
  PROTOCOL_VERSION,
  type Limits,
} from './constants.js';
import { encodeString, encodeValue, FrameDecoder, type FrameHandler } from './codec.js';
import { decodeHelloPayload, encodeHelloPayload, MIN_PROTOCOL_VERSION } from './hello.js';
import { encodeTtyPayload, encodeWindowSize, type TtyRequest } from './tty.js';

export interface ClientRequest {
  /** Open with HELLO (a new server); false speaks exactly the original protocol. */
  hello: boolean;
  features?: number;
  tty?: TtyRequest | null;
  workingDirectory: string;
  arguments: readonly string[];
  environment: ReadonlyArray<readonly [string, string]>;
  command: string;
}

/** All request frames in one buffer: one write, one segment. Same order as the original client. */
export function encodeRequest(request: ClientRequest): Buffer {
  const frames: Buffer[] = [];
  if (request.hello) frames.push(encodeHello(request.features));
  if (request.hello && request.tty)
    frames.push(encodeString(FrameType.TTY_REQUEST, encodeTtyPayload(request.tty)));
  frames.push(encodeString(FrameType.WORKING_DIRECTORY, request.workingDirectory));
  for (const argument of request.arguments) frames.push(encodeString(FrameType.COMMAND_ARGUMENT, argument));
  for (const [name, value] of request.environment)
    frames.push(encodeString(FrameType.ENVIRONMENT_VARIABLE, `${name}=${value}`));
  frames.push(encodeString(FrameType.START_COMMAND, request.command));
  return Buffer.concat(frames);
}

/** A client's HELLO frame: it opens every request of ours, and is all a health probe sends. */
export const encodeHello = (features: number = CLIENT_FEATURES): Buffer =>
  encodeString(FrameType.HELLO, encodeHelloPayload({ version: PROTOCOL_VERSION, features }));

export const encodeSignal = (signal: number): Buffer => encodeValue(FrameType.SIGNAL, signal);
export const encodeTerminate = (): Buffer => encodeValue(FrameType.TERMINATE_COMMAND, 0);
export const encodeResize = (rows: number, cols: number): Buffer =>
  encodeValue(FrameType.WINDOW_SIZE, encodeWindowSize(rows, cols));

/** What a client does with the server's frames; a frame without its callback is dropped. */
export interface ClientSessionHandler {
  onHello?(version: number, features: number): void;
  onStdout?(chunk: Buffer): void;
  onStdoutEnd?(): void;
  onStderr?(chunk: Buffer): void;
  onStderrEnd?(): void;
  /** The remote process closed its stdin: stop sending it. */
  onStdinClosed?(): void;
  /** A message from the server, to print as `k8psh: …`; the exit follows. */
  onServerError(message: string): void;
  /** The session is over: the command's code, and the signal that ended it (if any). */
  onExit(code: number, signal: number | null): void;
  onProtocolError(message: string): void;
}

export class ClientSession implements FrameHandler {
  private readonly decoder: FrameDecoder;
  private exitSignal: number | null = null;
  private finished = false;
  /** The server answered HELLO: it is one of ours. */
  serverVersion = 0;
  serverFeatures = 0;
  /** Bytes seen from the server: none before a close means it refused the request outright. */
  received = 0;

  constructor(
    private readonly handler: ClientSessionHandler,
    limits: Limits = DEFAULT_LIMITS,
  ) {
    this.decoder = new FrameDecoder(this, limits);
  }

  get done(): boolean {
    return this.finished;
  }

  receive(chunk: Buffer): void {
    this.received += chunk.length;
    this.decoder.push(chunk);
  }

  onValue(type: number, value: number): void {
    switch (type) {
      case FrameType.EXIT_CODE:
        this.finished = true;
        // Whatever follows, in this chunk or a later one, is an error: nothing reaches the handler after the exit.
        this.decoder.expectEnd('data after EXIT_CODE');
        return this.handler.onExit(value | 0, this.exitSignal);
      case FrameType.EXIT_SIGNAL:
        this.exitSignal = value;
        return;
      default:
        return this.decoder.fail(`unexpected ${frameName(type)} from the server`);
    }
  }

  onString(type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.HELLO: {
        const hello = decodeHelloPayload(payload);
        if (typeof hello === 'string') return this.decoder.fail(hello);
        if (hello.version < MIN_PROTOCOL_VERSION || hello.version > PROTOCOL_VERSION)
          return this.decoder.fail(
            `the server speaks protocol version ${hello.version}, this client ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`,
          );
        this.serverVersion = hello.version;
        this.serverFeatures = hello.features;
        return this.handler.onHello?.(hello.version, hello.features);
      }
      case FrameType.ERROR:
        return this.handler.onServerError(payload.toString('utf8'));
      default:
        return this.decoder.fail(`unexpected ${frameName(type)} from the server`);
    }
  }

  onData(type: number, chunk: Buffer): void {
    if (type === FrameType.STDOUT_DATA) this.handler.onStdout?.(chunk);
    else if (type === FrameType.STDERR_DATA) this.handler.onStderr?.(chunk);
    else this.decoder.fail('STDIN_DATA with a payload from the server');
  }

  onDataEnd(type: number): void {
    if (type === FrameType.STDOUT_DATA) this.handler.onStdoutEnd?.();
    else if (type === FrameType.STDERR_DATA) this.handler.onStderrEnd?.();
    else this.handler.onStdinClosed?.();
  }

  onError(message: string): void {
    this.handler.onProtocolError(message);
  }
}

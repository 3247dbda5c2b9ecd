/**
 * Server side of one session, without sockets: feed it the client's bytes, it
 * validates the frame sequence and calls back with what to do. Request phase
 * (HELLO?, TTY_REQUEST?, WORKING_DIRECTORY, COMMAND_ARGUMENT*,
 * ENVIRONMENT_VARIABLE*, START_COMMAND; the original client sends them in
 * this order, the server does not insist on it), then the streaming phase.
 */
import {
  ConfirmFrame,
  DEFAULT_LIMITS,
  Feature,
  FrameType,
  frameName,
  PASSED_FD_COUNT,
  type Limits,
} from './constants.js';
import { printable } from './printable.js';
import { FrameDecoder, type FrameHandler } from './codec.js';
import { PayloadList } from './payload-list.js';
import { decodeHelloPayload, negotiateVersion } from './hello.js';
import { decodeTtyPayload, decodeWindowSize, type TtyRequest } from './tty.js';

export interface SessionRequest {
  /** As the client sent it (relative to the base directory); validated by the server, not here. */
  workingDirectory: string;
  /** Values the client sent for its required/optional specs; the last one for a name wins. */
  environment: Map<string, string>;
  arguments: string[];
  command: string;
  tty: TtyRequest | null;
}

export interface ServerSessionHandler {
  /** A new client said HELLO; `version` is the one both speak. The server replies with HELLO. */
  onHello(version: number, features: number): void;
  onStart(request: SessionRequest): void;
  /** START_GO after START_COMMAND, on a session that asked for it (`confirmStart`); once. */
  onGo?(): void;
  onStdin(chunk: Buffer): void;
  onStdinEnd(): void;
  onTerminate(): void;
  onSignal(signal: number): void;
  onResize(rows: number, cols: number): void;
  /** The client broke the protocol: refuse (error frame if it speaks them) and close. */
  onProtocolError(message: string): void;
}

type Phase = 'request' | 'running' | 'failed';

export class ServerSession implements FrameHandler {
  private readonly decoder: FrameDecoder;
  private phase: Phase = 'request';
  private frames = 0;
  private workingDirectory: string | null = null;
  /** The variables as sent, made strings at START_COMMAND (./payload-list.ts says why). */
  private readonly variables: PayloadList;
  /**
   * Their names, once there are as many variables as the cap: it counts distinct names, as the map
   * they end in does, and until then it cannot be reached.
   */
  private names: Set<string> | null = null;
  private environmentBytes = 0;
  private readonly args: PayloadList;
  private argumentBytes = 0;
  private tty: TtyRequest | null = null;
  private stdinEnded = false;
  private went = false;
  /** Protocol version agreed with a new client; 0 for an original k8psh client. */
  version = 0;
  features = 0;

  constructor(
    private readonly handler: ServerSessionHandler,
    private readonly limits: Limits = DEFAULT_LIMITS,
    /** A remote stream that asked for START_READY/START_GO (docs/remote.md, "Exactly once"). */
    private readonly confirmStart = false,
  ) {
    this.decoder = new FrameDecoder(this, { ...limits, confirmFrames: confirmStart });
    this.args = new PayloadList(limits.maxFramePayload);
    this.variables = new PayloadList(limits.maxFramePayload);
  }

  /** True when the client opened with HELLO and so understands ERROR, EXIT_SIGNAL, ... */
  get modern(): boolean {
    return this.version > 0;
  }

  get started(): boolean {
    return this.phase === 'running';
  }

  receive(chunk: Buffer): void {
    this.decoder.push(chunk);
  }

  /**
   * The client was refused: nothing it sends from now on is decoded, and what its request gathered
   * goes at once. A refused client may go on sending up to the per-request caps (an original one
   * sends its whole request before it reads); kept, those bytes were memory no budget counted.
   */
  discard(): void {
    this.decoder.stop();
    this.args.clear();
    this.variables.clear();
    this.names = null;
    this.workingDirectory = null;
  }

  onValue(type: number, value: number): void {
    if (type === ConfirmFrame.START_GO) return this.go();
    if (type === FrameType.EXIT_CODE || type === FrameType.EXIT_SIGNAL)
      return this.fail(`unexpected ${frameName(type)} from a client`);
    if (this.phase !== 'running') return this.fail(`${frameName(type)} before START_COMMAND`);
    switch (type) {
      case FrameType.TERMINATE_COMMAND:
        return this.handler.onTerminate();
      case FrameType.SIGNAL:
        if (value < 1 || value > 64) return this.fail(`invalid signal number ${value}`);
        return this.handler.onSignal(value);
      case FrameType.WINDOW_SIZE: {
        const { rows, cols } = decodeWindowSize(value);
        return this.handler.onResize(rows, cols);
      }
      default:
        return this.fail(`unexpected ${frameName(type)} from a client`);
    }
  }

  onString(type: number, payload: Buffer): void {
    this.frames++;
    if (type === FrameType.ERROR) return this.fail(`unexpected ${frameName(type)} from a client`);
    if (this.phase !== 'request') return this.fail(`${frameName(type)} after START_COMMAND`);
    switch (type) {
      case FrameType.HELLO:
        return this.hello(payload);
      case FrameType.TTY_REQUEST: {
        if (this.tty) return this.fail('a second TTY_REQUEST');
        const tty = decodeTtyPayload(payload);
        if (typeof tty === 'string') return this.fail(tty);
        this.tty = tty;
        return;
      }
      case FrameType.WORKING_DIRECTORY:
        if (this.workingDirectory !== null) return this.fail('a second WORKING_DIRECTORY');
        this.workingDirectory = payload.toString('utf8');
        return;
      case FrameType.ENVIRONMENT_VARIABLE:
        return this.variable(payload);
      case FrameType.COMMAND_ARGUMENT:
        this.argumentBytes += payload.length;
        if (this.args.count >= this.limits.maxArguments)
          return this.fail(`too many arguments (the limit is ${this.limits.maxArguments})`);
        if (this.argumentBytes > this.limits.maxArgumentBytes)
          return this.fail(`arguments exceed ${this.limits.maxArgumentBytes} bytes`);
        this.args.push(payload);
        return;
      case FrameType.START_COMMAND:
        return this.start(payload.toString('utf8'));
      default:
        return this.fail(`unexpected ${frameName(type)} from a client`);
    }
  }

  onData(type: number, chunk: Buffer): void {
    if (!this.acceptStdin(type)) return;
    this.handler.onStdin(chunk);
  }

  onDataEnd(type: number): void {
    if (!this.acceptStdin(type)) return;
    this.stdinEnded = true;
    this.handler.onStdinEnd();
  }

  onError(message: string): void {
    this.phase = 'failed';
    this.handler.onProtocolError(message);
  }

  private acceptStdin(type: number): boolean {
    if (type !== FrameType.STDIN_DATA) {
      this.fail(`unexpected ${frameName(type)} from a client`);
      return false;
    }
    if (this.phase !== 'running') {
      this.fail('STDIN_DATA before START_COMMAND');
      return false;
    }
    // Stdin after its end is harmless (a racing client); it has nowhere to go.
    return !this.stdinEnded;
  }

  private go(): void {
    // The decoder lets START_GO through only with confirmStart; START_READY is never the client's.
    if (this.phase !== 'running') return this.fail('START_GO before START_COMMAND');
    if (this.went) return this.fail('a second START_GO');
    this.went = true;
    this.handler.onGo?.();
  }

  private hello(payload: Buffer): void {
    if (this.frames !== 1) return this.fail('HELLO must be the first frame');
    const hello = decodeHelloPayload(payload);
    if (typeof hello === 'string') return this.fail(hello);
    const version = negotiateVersion(hello.version);
    // Mark the client modern first, so that even a version refusal reaches it as an ERROR frame.
    this.version = typeof version === 'number' ? version : 1;
    this.features = hello.features;
    if (typeof version === 'string') return this.fail(version);
    this.handler.onHello(version, hello.features);
  }

  private variable(payload: Buffer): void {
    // '=' is ASCII: in UTF-8 its byte is never part of another character, so this is the text's first '='.
    const equals = payload.indexOf(0x3d);
    if (equals <= 0)
      return this.fail(`malformed environment variable "${printable(payload.toString('utf8'))}"`);
    this.environmentBytes += payload.length;
    if (this.variables.count >= this.limits.maxEnvironmentVariables) {
      this.names ??= new Set(this.variables.strings().map((text) => text.slice(0, text.indexOf('='))));
      const name = payload.toString('utf8', 0, equals);
      if (!this.names.has(name) && this.names.size >= this.limits.maxEnvironmentVariables)
        return this.fail(
          `too many environment variables (the limit is ${this.limits.maxEnvironmentVariables})`,
        );
      this.names.add(name);
    }
    if (this.environmentBytes > this.limits.maxEnvironmentBytes)
      return this.fail(`environment exceeds ${this.limits.maxEnvironmentBytes} bytes`);
    this.variables.push(payload);
  }

  /** The variables as a map; the last value sent for a name wins. */
  private environment(): Map<string, string> {
    const environment = new Map<string, string>();
    for (const text of this.variables.take()) {
      const equals = text.indexOf('=');
      environment.set(text.slice(0, equals), text.slice(equals + 1));
    }
    this.names = null;
    return environment;
  }

  private start(command: string): void {
    this.phase = 'running';
    // Only data and value frames follow: the buffer kept for control frames can go.
    this.decoder.release();
    this.handler.onStart({
      workingDirectory: this.workingDirectory ?? '',
      environment: this.environment(),
      arguments: this.args.take(),
      command,
      tty: this.tty,
    });
  }

  private fail(message: string): void {
    this.decoder.fail(message);
  }
}

/**
 * The descriptors that came with a request must be what it says (docs/protocol.md): exactly
 * PASSED_FD_COUNT with the PASSED_STDIO feature and no terminal, none without it. A message when not.
 */
export function checkPassedDescriptors(features: number, count: number, tty: boolean): string | null {
  const passing = (features & Feature.PASSED_STDIO) !== 0;
  if (passing ? count === PASSED_FD_COUNT && !tty : count === 0) return null;
  return `${count} descriptors came with a request that ${passing ? 'passes' : 'does not pass'} its stdio${tty ? ' and asks for a terminal' : ''}`;
}

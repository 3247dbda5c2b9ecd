/**
 * Passed descriptors (docs/protocol.md): the client connects to its server's local socket (an
 * abstract AF_UNIX name, shared by the containers of a Pod like the loopback interface), sends the
 * request together with its stdin, stdout and stderr, and the remote command reads and writes them
 * itself, as a local command would: no byte of the streams goes through this process, which only
 * forwards signals and waits for the exit.
 *
 * Nothing here loads Node's net, stream or tty modules (about 6 ms of every stub call on the
 * machines this was measured on): the addon connects, and the socket is read with fs.read. Anything
 * missing (the addon, the socket: an original k8psh server, another network namespace), a terminal
 * on fd 0-2 or K8PSH_DIRECT_STDIO=0 makes runDirect() return null: the caller relays over TCP.
 */
import { closeSync, read, writeSync } from 'node:fs';
import { clientDebug, writeStderr } from '../debug.js';
import { fdpass, fdpassFailure, type FdPass } from '../native/fdpass.js';
import {
  ClientSession,
  encodeRequest,
  encodeSignal,
  type ClientSessionHandler,
} from '../protocol/client-session.js';
import { CLIENT_FEATURES, Feature, localSocketPath, PASSED_FD_COUNT } from '../protocol/constants.js';
import { signalNumber } from '../signals.js';
import { errorLine } from '../errors.js';
import {
  connectionLost,
  exitOutcome,
  serverProtocolError,
  signalOutcome,
  type Outcome,
  type RemoteCommand,
  type RemoteTarget,
} from './outcome.js';
import { SignalForwarder } from './signal-forwarder.js';

const STDIO = Array.from({ length: PASSED_FD_COUNT }, (_, fd) => fd);
const READ_SIZE = 64 * 1024;

/** Whether stdio is to be passed: not disabled, and no terminal among fd 0-2 (those relay or use a pty). */
export function directStdioWanted(native: FdPass, env: NodeJS.ProcessEnv = process.env): boolean {
  // A terminal belongs to the client's session (job control, its modes): a remote command would
  // change its modes with nobody to restore them. Speed matters for pipes and files.
  return env.K8PSH_DIRECT_STDIO !== '0' && !STDIO.some((fd) => native.isatty(fd));
}

/** The outcome, or null when the session could not be direct (nothing ran: relay instead). */
export async function runDirect(target: RemoteTarget, command: RemoteCommand): Promise<Outcome | null> {
  const native = fdpass();
  if (!native) {
    clientDebug('Socket', `no descriptor passing: ${fdpassFailure()}`);
    return null;
  }
  if (!directStdioWanted(native)) return null;
  let fd: number;
  try {
    fd = native.connect(localSocketPath(target.port));
  } catch (error) {
    clientDebug(
      'Socket',
      `no local socket for port ${target.port} (${(error as NodeJS.ErrnoException).code})`,
    );
    return null;
  }
  const request = encodeRequest({
    ...command,
    hello: true,
    tty: null,
    features: CLIENT_FEATURES | Feature.PASSED_STDIO,
  });
  try {
    const sent = native.send(fd, request, STDIO);
    // The descriptors went with the first byte; the rest of a large request follows (blocking socket).
    for (let offset = sent; offset < request.length;) offset += writeSync(fd, request, offset);
  } catch (error) {
    clientDebug('Socket', `passing stdio failed: ${(error as Error).message}`);
    closeSync(fd);
    return null;
  }
  return new DirectSession(fd).run();
}

function writeAll(fd: number, chunk: Buffer): void {
  try {
    for (let offset = 0; offset < chunk.length;) offset += writeSync(fd, chunk, offset);
  } catch {
    // Nowhere to write it (a closed pipe).
  }
}

class DirectSession implements ClientSessionHandler {
  private readonly session = new ClientSession(this);
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);
  private resolve!: (outcome: Outcome | null) => void;
  private reject!: (error: Error) => void;
  private finished = false;
  private readonly signals = new SignalForwarder((signal) => this.forward(signal));

  constructor(private readonly fd: number) {}

  run(): Promise<Outcome | null> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.signals.start();
      this.readNext();
    });
  }

  private readNext(): void {
    read(this.fd, this.buffer, 0, READ_SIZE, null, (error, bytes) => {
      if (this.finished) return;
      if (error || bytes === 0) return this.onClose(error);
      this.session.receive(this.buffer.subarray(0, bytes));
      if (!this.finished) this.readNext();
    });
  }

  private forward(signal: NodeJS.Signals): void {
    if (this.finished) return;
    try {
      writeSync(this.fd, encodeSignal(signalNumber(signal)!));
    } catch {
      // The server is gone: the read reports it.
    }
  }

  onHello(version: number, features: number): void {
    clientDebug('Process', `server speaks protocol ${version}, features ${features}: stdio passed`);
  }

  // The command has our descriptors: data frames come only from the server itself (its refusal at the
  // session cap is stderr text, for old and new clients alike).
  onStdout(chunk: Buffer): void {
    writeAll(1, chunk);
  }
  onStderr(chunk: Buffer): void {
    writeAll(2, chunk);
  }

  onServerError(message: string): void {
    writeStderr(errorLine(message));
  }

  onExit(code: number, signal: number | null): void {
    this.end(() => this.resolve(exitOutcome(code, signal)));
  }

  onProtocolError(message: string): void {
    this.end(() => this.reject(serverProtocolError(message)));
  }

  private onClose(error: NodeJS.ErrnoException | null): void {
    if (error) clientDebug('Socket', `read: ${error.code ?? error.message}`);
    // Nothing at all came back, not even HELLO: nothing ran, relay instead.
    if (this.session.received === 0) return this.end(() => this.resolve(null));
    const signal = this.signals.first;
    if (signal) return this.end(() => this.resolve(signalOutcome(signal)));
    this.end(() => this.reject(connectionLost()));
  }

  private end(then: () => void): void {
    if (this.finished) return;
    this.finished = true;
    this.signals.stop();
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    then();
  }
}

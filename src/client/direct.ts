/**
 * Passed descriptors (docs/protocol.md): the client connects to its server's local socket (an
 * abstract AF_UNIX name, shared by the containers of a Pod like the loopback interface), sends the
 * request together with its stdin, stdout and stderr, and the remote command reads and writes them
 * itself, as a local command would: no byte of the streams goes through this process, which only
 * forwards signals and waits for the exit.
 *
 * Nothing here loads Node's net, stream or tty modules (about 6 ms of every stub call on the
 * machines this was measured on): the addon connects, and the socket is read with fs.read. Anything
 * missing (the addon, the socket: an original k8psh server, another network namespace) or
 * K8PSH_DIRECT_STDIO=0 makes runDirect() return null: the caller relays over TCP.
 *
 * Terminals are passed as they are, like pipes and files (docs/terminals.md): the remote command
 * shares the client's terminal as a local child would. The terminal sends Ctrl-C and window-size
 * changes to the client's process group only, so SIGWINCH is forwarded too when one is passed.
 */
import { closeSync, openSync, read, writeSync } from 'node:fs';
import { clientDebug, writeStderr } from '../debug.js';
import { syscalls, syscallsFailure, type Syscalls } from '../native/syscalls.js';
import { checkListener } from './listener.js';
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
import { callerEnv } from '../runtime/caller-env.js';
import { TERM_VARIABLE } from '../shared-rules.js';
import { directStdioSwitch, Switch } from '../switches.js';

const STDIO = Array.from({ length: PASSED_FD_COUNT }, (_, fd) => fd);
const READ_SIZE = 64 * 1024;

/** Whether stdio is to be passed: not disabled by K8PSH_DIRECT_STDIO=0 (terminals included). */
export function directStdioWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return directStdioSwitch(env[Switch.DIRECT_STDIO]);
}

/**
 * The outcome, or null when the session could not be direct (nothing ran: relay instead).
 * `nullStdin` (`-n`, K8PSH_STDIN=null): the command gets /dev/null as its stdin, as with `ssh -n`.
 */
export async function runDirect(
  target: RemoteTarget,
  command: RemoteCommand,
  nullStdin = false,
): Promise<Outcome | null> {
  const native = syscalls();
  if (!native) {
    clientDebug('Socket', `no descriptor passing: ${syscallsFailure()}`);
    return null;
  }
  if (!directStdioWanted()) return null;
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
  try {
    // Nothing is sent to a listener of a uid we do not trust: its holder would get our descriptors.
    checkListener(peerUid(native, fd), `@${localSocketPath(target.port).slice(1)}`, target);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const devNull = nullStdin ? openSync('/dev/null', 'r') : -1;
  const passed = nullStdin ? [devNull, 1, 2] : STDIO;
  const terminal = passed.some((passedFd) => native.isatty(passedFd));
  const request = encodeRequest({
    ...command,
    environment: terminal ? withTerm(command.environment) : command.environment,
    hello: true,
    tty: null,
    features: CLIENT_FEATURES | Feature.PASSED_STDIO,
  });
  try {
    const sent = native.send(fd, request, passed);
    // The descriptors went with the first byte; the rest of a large request follows (blocking socket).
    for (let offset = sent; offset < request.length;) offset += writeSync(fd, request, offset);
  } catch (error) {
    clientDebug('Socket', `passing stdio failed: ${(error as Error).message}`);
    closeSync(fd);
    return null;
  } finally {
    // The server holds its own copy now.
    if (devNull >= 0) closeSync(devNull);
  }
  return new DirectSession(fd, terminal).run();
}

function peerUid(native: Syscalls, fd: number): number | undefined {
  try {
    return native.peerUid(fd);
  } catch {
    return undefined;
  }
}

/** A passed terminal takes our TERM along (the server sets it unless the command's specs do). */
function withTerm(environment: RemoteCommand['environment']): RemoteCommand['environment'] {
  const term = callerEnv()[TERM_VARIABLE];
  if (term === undefined || environment.some(([name]) => name === TERM_VARIABLE)) return environment;
  return [...environment, [TERM_VARIABLE, term]];
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
  private readonly signals: SignalForwarder;

  constructor(
    private readonly fd: number,
    terminal: boolean,
  ) {
    // A passed terminal's resizes reach only our process group: the command hears them from us.
    this.signals = new SignalForwarder((signal) => this.forward(signal), terminal ? ['SIGWINCH'] : []);
  }

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

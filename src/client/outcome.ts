/**
 * What a remote command is and how it ended, as both clients (./direct.ts, ./remote.ts) report it.
 * No I/O here: the direct client must not load ./remote.ts (and Node's net with it).
 */
import type { RemoteSection } from '../config/model.js';
import type { ClientRequest } from '../protocol/client-session.js';
import { ExitCode } from '../protocol/constants.js';
import { signalName, signalNumber } from '../signals.js';
import { ConnectionError, ProtocolError } from '../errors.js';
import type { ListenerTrust } from './listener.js';

export interface RemoteTarget extends ListenerTrust {
  port: number;
  connectTimeoutMs: number;
  /** A section whose server is on another node (`--remote`): reached through the gateway, else over TLS. */
  remote?: RemoteSection | undefined;
}

export type RemoteCommand = Omit<ClientRequest, 'hello' | 'tty' | 'features'>;

export interface Outcome {
  code: number;
  /** Set when the remote command died by this signal. */
  signal: NodeJS.Signals | null;
}

/** EXIT_CODE, after EXIT_SIGNAL when the command died by a signal: 128+N and that signal. */
export function exitOutcome(code: number, signal: number | null): Outcome {
  const name = signal === null ? null : (signalName(signal) ?? null);
  return { code: name ? ExitCode.SIGNAL_BASE + signal! : code, signal: name };
}

/** Closed without an exit code after we forwarded `signal`: the original server does so when it killed the command. */
export function signalOutcome(signal: NodeJS.Signals): Outcome {
  return { code: ExitCode.SIGNAL_BASE + signalNumber(signal)!, signal };
}

export function connectionLost(): ConnectionError {
  return new ConnectionError('connection to the server was lost before the command finished');
}

/** The server broke the protocol: both clients say it the same way. */
export function serverProtocolError(message: string): ProtocolError {
  return new ProtocolError(`protocol error from the server: ${message}`);
}

/**
 * The ways k8psh fails on purpose, as undici's lib/core/errors.js does it: one class per kind, each
 * with a stable `code`, and the exit status follows from the class. Anything else thrown is a bug
 * or an unexpected system error and exits with ExitCode.FAILURE (src/client/report.ts). Malformed
 * configurations are src/config/errors.ts (their `code` is the system's, as for fs errors).
 */
import { ExitCode } from './protocol/constants.js';

export class K8pshError extends Error {
  override readonly name: string = 'K8pshError';
  readonly code: string = 'K8PSH_ERR';
  /** The status the process exits with when this ends it. */
  readonly exitCode: number = ExitCode.FAILURE;
}

/** A command line that cannot be run: unknown option, bad value, no command. */
export class UsageError extends K8pshError {
  override readonly name = 'UsageError';
  override readonly code = 'K8PSH_ERR_USAGE';
}

/** The command is not in the configuration: a shell's "command not found". */
export class CommandNotFoundError extends K8pshError {
  override readonly name = 'CommandNotFoundError';
  override readonly code = 'K8PSH_ERR_COMMAND_NOT_FOUND';
  override readonly exitCode = ExitCode.NOT_FOUND;
}

/** The server could not be reached, or the connection was lost: ssh's 255. */
export class ConnectionError extends K8pshError {
  override readonly name: string = 'ConnectionError';
  override readonly code: string = 'K8PSH_ERR_CONNECTION';
  override readonly exitCode = ExitCode.CONNECTION_FAILURE;
}

/** The peer broke the wire protocol. */
export class ProtocolError extends ConnectionError {
  override readonly name = 'ProtocolError';
  override readonly code = 'K8PSH_ERR_PROTOCOL';
}

/**
 * Something this process must set up cannot be: a file or directory (stubs, pidfile, install
 * target), the port, the working directory outside the base, the background server.
 */
export class SetupError extends K8pshError {
  override readonly name = 'SetupError';
  override readonly code = 'K8PSH_ERR_SETUP';
}

/** `--health`: the server does not answer as it should. */
export class UnhealthyError extends K8pshError {
  override readonly name = 'UnhealthyError';
  override readonly code = 'K8PSH_ERR_UNHEALTHY';
}

/** How every message of ours is printed (src/protocol/printable.ts: the wire carries it too). */
export { errorLine } from './protocol/printable.js';

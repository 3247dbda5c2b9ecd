/** Turns any failure into one plain line on stderr and the right exit code: never a stack trace. */
import { anyDebug } from '../debug.js';
import { errorLine, K8pshError } from '../errors.js';
import { ExitCode } from '../protocol/constants.js';

export function reportAndExit(error: unknown): never {
  if (error instanceof K8pshError) {
    process.stderr.write(errorLine(error.message));
    process.exit(error.exitCode);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(errorLine(message));
  if (anyDebug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(ExitCode.FAILURE);
}

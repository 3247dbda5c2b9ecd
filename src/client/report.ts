/** Turns any failure into one plain line on stderr and the right exit code: never a stack trace. */
import { anyDebug } from '../debug.js';
import { ClientError, printError } from './fail.js';

export function reportAndExit(error: unknown): never {
  if (error instanceof ClientError) {
    printError(error.message);
    process.exit(error.exitCode);
  }
  const message = error instanceof Error ? error.message : String(error);
  printError(message);
  if (anyDebug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

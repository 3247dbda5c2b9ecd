/** How the client reports a failure: one plain line, the exit code a shell would give. */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Exit code for "could not reach the server", as ssh uses. */
export const CONNECTION_FAILURE = 255;

export function printError(message: string): void {
  process.stderr.write(`k8psh: ${message}\n`);
}

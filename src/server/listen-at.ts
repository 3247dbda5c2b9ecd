/**
 * Listening on ADDRESS:PORT as every listener of a server does (the plain loopback ones, the TLS
 * ones, the metrics): a failure to bind is a one-line SetupError (exit 1) in the caller's words, and
 * a later error is logged, never thrown.
 */
import type { Server } from 'node:net';
import { formatHostPort, type HostPort } from '../config/address.js';
import { SetupError } from '../errors.js';

export interface ListenWords {
  /** The line when the address is taken. */
  inUse: string;
  /** The line for any other failure, given the address and the system's message. */
  failed(where: string, message: string): string;
  /** Errors once listening. */
  onError(error: Error): void;
}

export async function listenAt(server: Server, at: HostPort, words: ListenWords): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new SetupError(
          error.code === 'EADDRINUSE' ? words.inUse : words.failed(formatHostPort(at), error.message),
        ),
      ),
    );
    server.listen({ host: at.host, port: at.port, exclusive: true }, () => resolve());
  });
  server.removeAllListeners('error');
  server.on('error', (error: Error) => words.onError(error));
}

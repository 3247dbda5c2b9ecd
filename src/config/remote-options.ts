/**
 * The client side of a section's options (docs/remote.md): where its server is reached (`--remote`),
 * with which TLS material (`--tls`) and under which name its certificate must be (`--tls-server-name`).
 * Read by every client without an option parser, as `--server-uid` is (./build.ts); the server's yargs
 * accepts the same options and ignores the client-only ones.
 */
import path from 'node:path';
import { parseHostPort } from './address.js';
import type { RemoteSection } from './model.js';
import { optionValues } from './section-options.js';

export const REMOTE_OPTION = '--remote';
export const TLS_OPTION = '--tls';
export const TLS_SERVER_NAME_OPTION = '--tls-server-name';

/** How clients reach the section's server, undefined for a Pod-local one, or a message. */
export function remoteSection(
  options: readonly string[],
  port: number,
  configDirectory: string,
): RemoteSection | undefined | string {
  // The last of each, as with any option given twice.
  const values = new Map(
    optionValues(options, [REMOTE_OPTION, TLS_OPTION, TLS_SERVER_NAME_OPTION]).map(({ name, value }) => [
      name,
      value,
    ]),
  );
  const remote = values.get(REMOTE_OPTION);
  if (remote === undefined) return undefined;
  if (!remote) return `${REMOTE_OPTION} needs HOST[:PORT]`;
  const address = parseHostPort(remote, port);
  if (typeof address === 'string') return `${REMOTE_OPTION} ${address}`;
  const tls = values.get(TLS_OPTION);
  // No plaintext across the network: a remote section without TLS material is a configuration error.
  if (!tls)
    return `${REMOTE_OPTION} needs ${TLS_OPTION} DIR (a remote server is reached only over mutual TLS)`;
  const serverName = values.get(TLS_SERVER_NAME_OPTION);
  if (serverName === null || serverName === '') return `${TLS_SERVER_NAME_OPTION} needs a name`;
  return {
    host: address.host,
    port: address.port,
    tlsDirectory: path.resolve(configDirectory, tls),
    serverName: serverName ?? address.host,
  };
}

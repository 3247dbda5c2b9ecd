/**
 * `k8pshd --gateway` (docs/remote.md): in the build Pod, serve every section of the configuration that
 * has `--remote` on its own loopback port and local socket, as a Pod-local server would, so that the
 * stubs (native, passing their descriptors) reach it unchanged; each session is carried to the remote
 * server over that section's established connection (./upstream.ts, ./relay.ts).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/model.js';
import { SetupError } from '../../errors.js';
import { logger } from '../../log.js';
import { ExitCode } from '../../protocol/constants.js';
import { daemonChildReady, isDaemonChild } from '../daemon.js';
import { setLongTimeout } from '../long-timeout.js';
import type { ServerOptions } from '../options.js';
import { Server } from '../server.js';
import { createStubs, deleteStubs, removeFiles } from '../stubs.js';
import { GatewaySession } from './relay.js';
import { Upstream } from './upstream.js';

const GATEWAY_RESIDENT_GROWTH = 2 << 20;
const SETTLE_AFTER_MS = 1000;

export async function runGateway(config: Config, options: ServerOptions, log: Logger): Promise<void> {
  if (options.metrics !== undefined)
    throw new SetupError('--metrics is served by a server, not yet by --gateway');
  const remote = [...config.hosts.values()].filter((host) => host.remote);
  if (remote.length === 0)
    throw new SetupError(`no section of ${config.file} has --remote: a gateway has nothing to serve`);
  const names = [...config.commands.values()]
    .filter((c) => config.hosts.get(c.host)?.remote)
    .map((c) => c.name);
  const directory = resolve(options.executableDirectory ?? '.');
  let stubs: string[] = [];
  if (options.disableClientExecutables) deleteStubs(directory, names);
  else stubs = createStubs({ directory, names, overwrite: options.overwriteClientExecutables });

  const servers: Server[] = [];
  const upstreams: Upstream[] = [];
  try {
    for (const host of remote) {
      const upstream = new Upstream(host.name, host.remote!, logger('Socket'), config.connectTimeoutMs);
      upstream.start();
      upstreams.push(upstream);
      const commands = new Map([...config.commands].filter(([, command]) => command.host === host.name));
      const context = {
        name: host.name,
        upstream,
        limits: options.limits,
        requestTimeoutMs: options.requestTimeoutMs,
        log: logger('Process'),
      };
      const server = new Server(
        {
          config,
          name: host.name,
          port: host.port,
          commands,
          // Loopback only: the gateway serves its own Pod. The pidfile is written once, by the first.
          options: {
            ...options,
            listen: [],
            pidfileGiven: servers.length === 0 && (options.pidfileGiven || options.background),
            background: false,
          },
          stubs: [],
          tls: null,
          sessions: (socket) => new GatewaySession(socket, context),
          // Sessions leave a few MiB behind (sockets, streams, TLS records); in every build Pod the
          // gateway's idle footprint is what counts: given back from 2 MiB on, not 8.
          residentGrowthBytes: GATEWAY_RESIDENT_GROWTH,
        },
        log,
      );
      await server.listen();
      servers.push(server);
    }
  } catch (error) {
    for (const upstream of upstreams) upstream.close();
    if (!options.keepClientExecutables) removeFiles(stubs);
    throw error;
  }
  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) {
      // A second signal hangs up on what is still running.
      for (const server of servers) void server.shutdown(reason, false);
      return;
    }
    stopping = true;
    await Promise.all(servers.map((server) => server.shutdown(reason, false)));
    for (const upstream of upstreams) upstream.close();
    if (!options.keepClientExecutables) removeFiles(stubs);
    process.exit(ExitCode.SUCCESS);
  };
  process.on('uncaughtException', (error) => log.error({ err: error }, 'internal error in a session'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
  if (options.timeout >= 0) setLongTimeout(options.timeout, () => void stop('timeout'));
  log.info({ sections: remote.map((host) => host.name), stubs: stubs.length }, 'gateway ready');
  // Once connected (a handshake's garbage included), start-up's leftovers go: once, while idle.
  setTimeout(() => servers[0]!.settleMemory(), SETTLE_AFTER_MS).unref();
  if (isDaemonChild()) daemonChildReady(null);
}

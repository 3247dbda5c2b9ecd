/**
 * k8pshd (README.md, "Server k8pshd"): load the configuration, create the stubs, and serve this
 * server's commands on 127.0.0.1 until a signal, the timeout or the
 * connection budget ends it; then clean up what it made.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadChosenConfig, NAME_IT_WITH_OPTION } from '../config/load.js';
import type { CommandConfig, Config } from '../config/model.js';
import { initLogger, logger } from '../log.js';
import { errorLine, K8pshError, SetupError } from '../errors.js';
import { ExitCode } from '../protocol/constants.js';
import { daemonChildReady, daemonize, isDaemonChild } from './daemon.js';
import { parseServerOptions, type ServerOptions } from './options.js';
import { setLongTimeout } from './long-timeout.js';
import { reapOrphans } from './orphans.js';
import { listenAddresses, Server } from './server.js';
import { createStubs, deleteStubs, removeFiles } from './stubs.js';
import { callerEnv } from '../runtime/caller-env.js';

export async function serverMain(args: string[]): Promise<void> {
  try {
    await run(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isDaemonChild()) daemonChildReady(message);
    process.stderr.write(errorLine(message, 'k8pshd'));
    process.exit(error instanceof K8pshError ? error.exitCode : ExitCode.FAILURE);
  }
}

async function run(args: string[]): Promise<void> {
  const warnings: string[] = [];
  const first = await parseServerOptions(args, (m) => warnings.push(m));
  if (!first) return;
  const name = first.name || callerEnv().K8PSH_NAME || hostname();
  const { file: configFile, config } = await loadChosenConfig(
    first.config,
    { env: callerEnv(), warn: (m: string) => warnings.push(m) },
    NAME_IT_WITH_OPTION,
  );
  const host = config.hosts.get(name);
  // Section options come first, so the real command line wins.
  const options =
    host && host.serverOptions.length > 0
      ? (await parseServerOptions(
          [...host.serverOptions, ...args],
          (m) => warnings.push(m),
          host.serverOptions.length,
        ))!
      : first;

  initLogger(options.logFormat);
  const log = logger('Main');
  for (const warning of [...new Set(warnings)]) log.warn(warning);
  log.debug({ config: resolve(configFile), name, options }, 'starting');

  if (options.background && !isDaemonChild()) return daemonize(args);

  if (options.gateway) {
    const { runGateway } = await import('./gateway/main.js');
    return runGateway(config, options, log);
  }

  // Before anything is made: a server that would only be refused leaves nothing behind.
  if (host) checkServerUid(name, options.serverUid);
  // So is one told to listen beyond loopback without its TLS material.
  const addresses = listenAddresses(options.listen, host?.port ?? 0);
  const tls =
    addresses.tls.length > 0
      ? (await import('./tls-listener.js')).serverTlsMaterial(options.tls, addresses.tls)
      : null;
  const stubs = makeStubs(config, name, options, log);
  const commands = new Map<string, CommandConfig>(
    [...config.commands].filter(([, command]) => command.host === name),
  );
  if (!host || commands.size === 0) {
    log.info({ name, stubs: stubs.length }, 'no commands for this server: stubs created, exiting');
    if (isDaemonChild()) daemonChildReady(null);
    return;
  }
  if (options.maxConnections === 0) {
    // The original's loop runs while `count < max || max < 0`: none at all, then its usual clean-up.
    log.info({ name, stubs: stubs.length }, 'max-connections 0: stubs created, no connection accepted');
    if (!options.keepClientExecutables) removeFiles(stubs);
    if (isDaemonChild()) daemonChildReady(null);
    return;
  }
  const server = new Server({ config, name, port: host.port, commands, options, stubs, tls }, log);
  // One broken session must not take the others down with it.
  process.on('uncaughtException', (error) => log.error({ err: error }, 'internal error in a session'));
  // Before listening: a signal that comes as soon as the port accepts finds its handler.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => void server.shutdown(signal));
  // Before the first command: an orphan of it must find the reaper in place.
  const notReaping = reapOrphans(logger('Process'));
  if (notReaping) log.warn({ reason: notReaping }, 'orphans of commands are not reaped');
  await server.listen();
  if (options.timeout >= 0) setLongTimeout(options.timeout, () => void server.shutdown('timeout'));
  if (isDaemonChild()) daemonChildReady(null);
}

/**
 * A server whose section names its uid runs as that uid (or root, which stubs trust anyway): stubs
 * refuse a listener of any other uid, so starting would only make every call fail (docs/security.md).
 */
function checkServerUid(name: string, expected: number | undefined): void {
  const euid = process.geteuid?.();
  if (expected === undefined || euid === undefined || euid === expected || euid === 0) return;
  throw new SetupError(
    `server ${name} runs as uid ${euid}, but --server-uid says ${expected}: stubs would refuse to talk to it`,
  );
}

function makeStubs(config: Config, name: string, options: ServerOptions, log: Logger): string[] {
  const directory = resolve(options.executableDirectory ?? '.');
  const all = [...config.commands.values()];
  if (options.disableClientExecutables) {
    deleteStubs(
      directory,
      all.map((command) => command.name),
    );
    return [];
  }
  const names = all
    .filter((command) => options.generateLocalExecutables || command.host !== name)
    .map((command) => command.name);
  const created = createStubs({ directory, names, overwrite: options.overwriteClientExecutables });
  log.debug({ directory, names }, 'client executables created');
  return created;
}

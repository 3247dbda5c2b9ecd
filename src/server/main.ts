/**
 * k8pshd (SPEC A3): load the configuration, create the stubs, and serve this
 * server's commands on 127.0.0.1 until a signal, the timeout or the
 * connection budget ends it; then clean up what it made.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadChosenConfig, NAME_IT_WITH_OPTION } from '../config/load.js';
import type { CommandConfig, Config } from '../config/model.js';
import { initLogger, logger } from '../log.js';
import { errorLine, K8pshError, SetupError } from '../errors.js';
import { ExitCode } from '../protocol/constants.js';
import { encodeRefusal } from '../protocol/server-frames.js';
import { closeDescriptors } from './direct-child.js';
import { daemonChildReady, daemonize, isDaemonChild } from './daemon.js';
import { IdleMemoryReducer } from './idle-memory.js';
import { parseServerOptions, type ServerOptions } from './options.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { listenLocal } from './local.js';
import { reapOrphans } from './orphans.js';
import { setLongTimeout } from './long-timeout.js';
import { Connection, type FirstMessage } from './session.js';
import { createStubs, deleteStubs, removeFiles } from './stubs.js';
import { callerEnv } from '../runtime/caller-env.js';

const SERVER_HOST = '127.0.0.1';
const KILL_GRACE_MS = 2000;
/** A client refused at the session cap has this long to read the refusal before it is dropped. */
const REFUSAL_LINGER_MS = 2000;

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
      ? (await parseServerOptions([...host.serverOptions, ...args], (m) => warnings.push(m)))!
      : first;

  initLogger(options.logFormat);
  const log = logger('Main');
  for (const warning of [...new Set(warnings)]) log.warn(warning);
  log.debug({ config: resolve(configFile), name, options }, 'starting');

  if (options.background && !isDaemonChild()) return daemonize(args);

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
  await serve(config, name, host.port, commands, options, stubs, log);
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

async function serve(
  config: Config,
  name: string,
  port: number,
  commands: Map<string, CommandConfig>,
  options: ServerOptions,
  stubs: string[],
  log: Logger,
): Promise<void> {
  const connections = new Set<Connection>();
  const requestBudget = { used: 0, limit: options.maxRequestBytes };
  let started = 0;
  let stopping = false;
  const pidfile = options.background || options.pidfileGiven ? options.pidfile : null;
  const memory = new IdleMemoryReducer({ isIdle: () => connections.size === 0 });

  /** False: the connection was dropped or refused (and is not read). */
  const admit = (socket: Socket, waiting = 0): boolean => {
    if (stopping) {
      socket.destroy();
      return false;
    }
    if (connections.size + waiting >= options.maxSessions) {
      log.warn({ limit: options.maxSessions }, 'connection refused: too many sessions');
      // Not read: old and new clients both print a STDERR_DATA refusal. Its bytes are discarded, and
      // a peer that never closes does not keep the descriptor.
      socket.on('error', () => {});
      socket.resume();
      socket.end(
        encodeRefusal(`server ${name} is busy (${options.maxSessions} sessions)`, ExitCode.FAILURE, false),
      );
      setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      return false;
    }
    return true;
  };
  // One context for every session: nothing in it belongs to one connection.
  const sessionContext = {
    serverName: name,
    baseDirectory: config.baseDirectory,
    commands,
    limits: options.limits,
    requestTimeoutMs: options.requestTimeoutMs,
    requestBudget,
    killGraceMs: KILL_GRACE_MS,
    log: logger('Process'),
    onStarted: () => {
      started++;
      if (options.maxConnections >= 0 && started >= options.maxConnections)
        void shutdown('max-connections reached');
    },
  };
  const startSession = (socket: Socket, first?: FirstMessage): void => {
    // A local connection may have waited for its first bytes: the server may be stopping now.
    if (stopping) {
      if (first) closeDescriptors(first.fds);
      return void socket.destroy();
    }
    const connection = new Connection(socket, sessionContext);
    connections.add(connection);
    void connection.done.then(() => {
      connections.delete(connection);
      memory.sessionEnded();
    });
    // Counted first: this request may be the one that reaches --max-connections.
    if (first) connection.receiveFirst(first);
    else connection.awaitRequest();
  };
  const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket: Socket) => {
    if (admit(socket)) startSession(socket);
  });
  let localServer: Server | null = null;

  const shutdown = async (reason: string): Promise<void> => {
    if (stopping) {
      // A second request: stop waiting.
      for (const connection of connections) connection.hangUp();
      return;
    }
    stopping = true;
    log.info({ reason, sessions: connections.size }, 'shutting down');
    server.close();
    localServer?.close();
    // Running commands are drained; a client still sending its request would hold the exit until
    // its request timeout.
    for (const connection of connections) connection.refuseIfWaiting(`server ${name} is shutting down`);
    if (options.noWait) for (const connection of connections) connection.hangUp();
    await Promise.all([...connections].map((connection) => connection.done));
    if (!options.keepClientExecutables) removeFiles(stubs);
    if (pidfile) removePidfile(pidfile);
    log.info('stopped');
    process.exit(ExitCode.SUCCESS);
  };

  // Before the first command: an orphan of it must find the reaper in place.
  const notReaping = reapOrphans(logger('Process'));
  if (notReaping) log.warn({ reason: notReaping }, 'orphans of commands are not reaped');

  // The local socket first: once the port accepts, a client can pass its stdio. Why it is missing
  // is told only once the port is ours: with the port in use, that error is the one to see.
  const local = await listenLocal(port, options.requestTimeoutMs, admit, startSession, logger('Main'));
  localServer = local.server;
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      rejectListen(
        new SetupError(
          error.code === 'EADDRINUSE'
            ? `port ${port} is already in use (server ${name} on ${SERVER_HOST}:${port})`
            : `cannot listen on ${SERVER_HOST}:${port}: ${error.message}`,
        ),
      ),
    );
    server.listen({ host: SERVER_HOST, port, exclusive: true }, resolveListen);
  })
    .then(() => {
      if (pidfile) writePidfile(pidfile);
    })
    .catch((error: Error) => {
      server.close();
      localServer?.close();
      if (!options.keepClientExecutables) removeFiles(stubs);
      throw error;
    });
  server.on('error', (error) => log.error({ err: error.message }, 'server error'));
  if (local.missing)
    log[local.missing.level](local.missing.detail, 'no local socket: stdio is relayed over TCP');

  // One broken session must not take the others down with it.
  process.on('uncaughtException', (error) => log.error({ err: error }, 'internal error in a session'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => void shutdown(signal));
  if (options.timeout >= 0) setLongTimeout(options.timeout, () => void shutdown('timeout'));
  log.info({ name, port, local: localServer !== null, commands: [...commands.keys()] }, 'listening');
  if (isDaemonChild()) daemonChildReady(null);
}

/**
 * The stub path: `gcc args...` (or `k8psh gcc args...`) runs the configured
 * command on its server. Every module imported here is paid for by every
 * stub call: keep it to the config parser, the protocol and node: built-ins.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { clientEnvironment } from '../config/environment.js';
import { clientDebug } from '../debug.js';
import { ExitCode } from '../protocol/constants.js';
import { CORE_SIGNALS } from '../signals.js';
import { ClientError } from './fail.js';
import { runDirect } from './direct.js';
import type { Outcome } from './outcome.js';
import { ttyRequest, wantTty } from './terminal.js';
import { relativeWorkingDirectory } from './workdir.js';
import { callerEnv } from '../runtime/caller-env.js';

export interface RunOptions {
  configFile?: string | undefined;
  /** true/false: `-t`/`-T`; undefined: decide from the terminals and K8PSH_TTY. */
  tty?: boolean | undefined;
}

export function configPath(explicit: string | undefined, env = callerEnv()): string {
  return explicit ?? env.K8PSH_CONFIG ?? 'k8psh.conf';
}

export async function runCommand(
  name: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Outcome> {
  const file = configPath(options.configFile);
  const config = await loadConfig(file, {
    env: callerEnv(),
    warn: (m: string) => clientDebug('Configuration', m),
  });
  const command = config.commands.get(name);
  if (!command) throw new ClientError(`${name}: command not found in ${resolve(file)}`, ExitCode.NOT_FOUND);
  const host = config.hosts.get(command.host)!;
  const workingDirectory = relativeWorkingDirectory(config.baseDirectory);
  clientDebug('Main', `running ${name} on ${host.name}:${host.port} in "${workingDirectory}"`);
  const target = { serverName: host.name, port: host.port, connectTimeoutMs: config.connectTimeoutMs };
  const request = {
    command: name,
    arguments: args,
    workingDirectory,
    environment: clientEnvironment(command, callerEnv()),
  };
  const tty = wantTty(options.tty) ? ttyRequest() : null;
  if (tty === null) {
    const outcome = await runDirect(target, request);
    if (outcome) return outcome;
  }
  // Relayed over TCP: loaded only now, with Node's net and streams.
  const { runRemote } = await import('./remote.js');
  return runRemote(target, request, tty);
}

/** End this process the way the remote command ended. */
export function exitLike(outcome: Outcome): never {
  const { signal } = outcome;
  if (signal && !CORE_SIGNALS.has(signal)) {
    // Die by the same signal, so our parent sees what it would see locally.
    process.removeAllListeners(signal);
    try {
      process.kill(process.pid, signal);
    } catch {
      // Not deliverable here: fall through to the shell's convention.
    }
  }
  process.exit(outcome.code);
}

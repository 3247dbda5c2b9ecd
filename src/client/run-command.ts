/**
 * The stub path: `gcc args...` (or `k8psh gcc args...`) runs the configured
 * command on its server. Every module imported here is paid for by every
 * stub call: keep it to the config parser, the protocol and node: built-ins.
 */
import { resolve } from 'node:path';
import { loadChosenConfig, NAME_IT_WITH_OPTION, NAME_IT_WITH_VARIABLE } from '../config/load.js';
import { clientEnvironment } from '../config/environment.js';
import { clientDebug } from '../debug.js';
import { CommandNotFoundError, UsageError } from '../errors.js';
import { CORE_SIGNALS } from '../signals.js';
import { runDirect } from './direct.js';
import type { Outcome } from './outcome.js';
import { relayWantsPty, ttyChoice, ttyRequest } from './terminal.js';
import { restoreTerminalModes, saveTerminalModes } from './terminal-modes.js';
import { relativeWorkingDirectory } from './workdir.js';
import { callerEnv } from '../runtime/caller-env.js';
import { stubCacheTarget } from '../runtime/stub-cache-target.js';
import { stdinSwitch, Switch } from '../switches.js';

export interface RunOptions {
  configFile?: string | undefined;
  /** true/false: `-t`/`-T`; undefined: decide from K8PSH_TTY, else the terminals. */
  tty?: boolean | undefined;
  /** `-n`: stdin from /dev/null (as `ssh -n`); undefined: K8PSH_STDIN decides. */
  nullStdin?: boolean | undefined;
  /** Run by `k8psh` (which has --config), not by a stub. */
  frontend?: boolean;
}

export async function runCommand(
  name: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Outcome> {
  // The front asks a stub (never `k8psh --config`) to refresh the native stubs' compiled table.
  const tablePath = options.frontend || options.configFile !== undefined ? undefined : stubCacheTarget();
  const table = tablePath === undefined ? undefined : await import('./refresh-stub-table.js');
  const recording = table?.recordEnv(callerEnv());
  const { file, config, content } = await loadChosenConfig(
    options.configFile,
    {
      env: recording?.env ?? callerEnv(),
      warn: (m: string) => clientDebug('Configuration', m),
      keepContent: table !== undefined,
    },
    options.frontend ? NAME_IT_WITH_OPTION : NAME_IT_WITH_VARIABLE,
  );
  if (table && recording && tablePath !== undefined)
    table.refreshStubTable(tablePath, {
      file,
      config,
      content,
      recording,
      k8pshConfig: callerEnv()[Switch.CONFIG],
    });
  const command = config.commands.get(name);
  if (!command) throw new CommandNotFoundError(`${name}: command not found in ${resolve(file)}`);
  const host = config.hosts.get(command.host)!;
  const workingDirectory = relativeWorkingDirectory(config.baseDirectory);
  clientDebug('Main', `running ${name} on ${host.name}:${host.port} in "${workingDirectory}"`);
  const target = {
    serverName: host.name,
    serverUid: host.serverUid,
    port: host.port,
    connectTimeoutMs: config.connectTimeoutMs,
    remote: host.remote,
  };
  const request = {
    command: name,
    arguments: args,
    workingDirectory,
    environment: clientEnvironment(command, callerEnv()),
  };
  const nullStdin = options.nullStdin ?? stdinIsNull(callerEnv());
  const forced = ttyChoice(options.tty);
  // Whatever a remote command does to a terminal it shares with us, we leave it as we found it.
  saveTerminalModes();
  if (forced !== true) {
    // Every descriptor as it is, terminals included (docs/terminals.md).
    const outcome = await runDirect(target, request, nullStdin);
    if (outcome) return outcome;
  }
  // Relayed over TCP: loaded only now, with Node's net and streams.
  const { runRemote } = await import('./remote.js');
  const tty = (forced ?? relayWantsPty()) ? ttyRequest() : null;
  return runRemote(target, request, tty, nullStdin);
}

/** K8PSH_STDIN=null is `-n` for stubs; unset or empty: stdin as it is. */
export function stdinIsNull(env: NodeJS.ProcessEnv): boolean {
  const setting = env[Switch.STDIN];
  const choice = stdinSwitch(setting);
  if (choice !== 'invalid') return choice === 'null';
  throw new UsageError(`${Switch.STDIN} must be "null" or unset, not ${JSON.stringify(setting)}`);
}

/** End this process the way the remote command ended. */
export function exitLike(outcome: Outcome): never {
  const { signal } = outcome;
  // Before dying by a signal, which runs no 'exit' listener.
  restoreTerminalModes();
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

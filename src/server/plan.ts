/**
 * The server's admission policy for one request (docs/session.md, "The server"): which command,
 * where, with what environment and executable, or why not. It decides only; ./connection.ts acts on
 * the answer, and owns the working directory's descriptor of a spawn plan (closed once the command
 * started, or not).
 */
import { closeSync } from 'node:fs';
import { commandEnvironment } from '../config/environment.js';
import type { CommandConfig } from '../config/model.js';
import { ExitCode } from '../protocol/constants.js';
import { checkPassedDescriptors, type SessionRequest } from '../protocol/server-session.js';
import type { SpawnSpec } from './child.js';
import { DEFAULT_PATH, findExecutable } from './executable.js';
import { descriptorPath, openWorkingDirectory } from './workdir.js';

export interface PlanContext {
  serverName: string;
  baseDirectory: string;
  commands: ReadonlyMap<string, CommandConfig>;
}

export type Plan =
  | { spawn: SpawnSpec }
  /** Refused before anything ran: the message the client prints, the exit code a shell would give. */
  | { refusal: string; code: number }
  /** The client broke the protocol. */
  | { protocolError: string };

/**
 * `features` are the client's HELLO features, `passedFds` the number of descriptors that came with
 * the request; `serverEnv` is what `=NAME` and `?NAME` specs fall back on. `passedTerminal`: one
 * of them is a terminal, whose TERM the client sends along (docs/terminals.md).
 */
export function planCommand(
  request: SessionRequest,
  context: PlanContext,
  features: number,
  passedFds: number,
  serverEnv: NodeJS.ProcessEnv = process.env,
  passedTerminal = false,
): Plan {
  const command = context.commands.get(request.command);
  if (!command)
    return {
      refusal: `${request.command}: command not found on server ${context.serverName}`,
      code: ExitCode.NOT_FOUND,
    };
  const mismatch = checkPassedDescriptors(features, passedFds, request.tty !== null);
  if (mismatch !== null) return { protocolError: mismatch };
  const directory = openWorkingDirectory(context.baseDirectory, request.workingDirectory);
  if ('error' in directory) return { refusal: directory.error, code: ExitCode.FAILURE };
  const env = commandEnvironment(command.environment, request.environment, serverEnv);
  const [executable = command.name, ...fixed] = command.argv;
  const found = findExecutable(executable, descriptorPath(directory.fd), env.PATH ?? DEFAULT_PATH);
  if ('error' in found) {
    closeSync(directory.fd);
    return { refusal: found.error, code: found.code };
  }
  return {
    spawn: {
      file: found.path,
      argv0: executable,
      args: [...fixed, ...request.arguments],
      cwd: directory,
      env: request.tty ? { ...env, TERM: request.tty.term } : withTerminalType(env, request, passedTerminal),
      tty: request.tty,
    },
  };
}

/**
 * A command on a passed terminal gets the client's TERM, as it would in a pseudo-terminal (and as
 * locally): gcc, ls and grep colour only for a known terminal type. The command's own TERM spec wins.
 */
function withTerminalType(
  env: Record<string, string>,
  request: SessionRequest,
  passedTerminal: boolean,
): Record<string, string> {
  const term = request.environment.get('TERM');
  if (!passedTerminal || term === undefined || env.TERM !== undefined) return env;
  return { ...env, TERM: term };
}

/**
 * --background: a detached re-exec of ourselves (new session, no terminal,
 * stdio on /dev/null). The parent waits until the child listens (or fails)
 * on an inherited pipe, so its exit status tells whether the daemon is up.
 */
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { isSea } from 'node:sea';
import { callerEnv } from '../runtime/caller-env.js';
import { selfExecutable } from '../runtime/self.js';

const READY_FD_VARIABLE = 'K8PSH_DAEMON_FD';
const readyFd = takeReadyFd();

function takeReadyFd(): number | null {
  const value = process.env[READY_FD_VARIABLE];
  // Not for the commands we run, nor for a daemon this one might start.
  delete process.env[READY_FD_VARIABLE];
  return value ? Number(value) : null;
}

export function isDaemonChild(): boolean {
  return readyFd !== null;
}

/** Tell the waiting parent: null = listening, else the error it prints. */
export function daemonChildReady(error: string | null): void {
  if (readyFd === null) return;
  try {
    writeSync(readyFd, error === null ? 'ready\n' : `error: ${error}\n`);
    closeSync(readyFd);
  } catch {
    // The parent is gone: nobody to tell.
  }
}

export async function daemonize(args: readonly string[]): Promise<void> {
  const rest = args.filter((arg) => arg !== '-b' && arg !== '--background');
  // The front (or the single executable) by the server's name: it stashes the caller's Node
  // variables again, from the caller's environment.
  const [file, argv, argv0] = isSea()
    ? [selfExecutable(), rest, 'k8pshd']
    : [process.execPath, [process.argv[1]!, '--server', ...rest], undefined];
  const child = spawn(file, argv, {
    argv0,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...callerEnv(), [READY_FD_VARIABLE]: '3' },
  });
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  let answer = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (text: string) => (answer += text));
  await new Promise<void>((resolve) => pipe.on('end', resolve));
  if (answer.startsWith('ready')) {
    child.unref();
    return;
  }
  throw new Error(answer.replace(/^error: /, '').trim() || 'the background server exited during start-up');
}

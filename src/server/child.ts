/**
 * The remote command as a child process with pipes, in its own process group
 * (so that signals and clean-up reach everything it started).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { signalNumber } from '../signals.js';

export interface SpawnSpec {
  file: string;
  argv0: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  tty: { rows: number; cols: number; term: string } | null;
}

export interface ChildEvents {
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
  onStdoutEnd(): void;
  onStderrEnd(): void;
  /** The command closed its stdin (seen as EPIPE). */
  onStdinClosed(): void;
  /** Spawning failed: nothing runs. */
  onSpawnError(error: NodeJS.ErrnoException): void;
  /** The command ended and all its output was delivered. */
  onExit(code: number | null, signal: number | null): void;
}

export interface RunningChild {
  readonly pid: number | undefined;
  /** False: wait for onStdinDrain before writing more. */
  writeStdin(chunk: Buffer): boolean;
  onStdinDrain(callback: () => void): void;
  endStdin(): void;
  /** Signal the whole process group. */
  signal(signal: NodeJS.Signals | number): void;
  resize(rows: number, cols: number): void;
  pauseOutput(): void;
  resumeOutput(): void;
}

export function spawnPiped(spec: SpawnSpec, events: ChildEvents): RunningChild {
  const child: ChildProcessWithoutNullStreams = spawn(spec.file, spec.args, {
    argv0: spec.argv0,
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: 'pipe',
  });
  let stdinClosed = false;
  let exit: [number | null, number | null] | null = null;
  let openOutputs = 2;
  const settle = (): void => {
    if (exit && openOutputs === 0) events.onExit(exit[0], exit[1]);
  };

  child.on('error', (error: NodeJS.ErrnoException) => {
    if (child.pid === undefined) events.onSpawnError(error);
  });
  child.on('exit', (code, signal) => {
    exit = [code, signal ? (signalNumber(signal) ?? null) : null];
    settle();
  });
  child.stdout.on('data', (chunk: Buffer) => events.onStdout(chunk));
  child.stderr.on('data', (chunk: Buffer) => events.onStderr(chunk));
  child.stdout.on('end', () => {
    events.onStdoutEnd();
    openOutputs--;
    settle();
  });
  child.stderr.on('end', () => {
    events.onStderrEnd();
    openOutputs--;
    settle();
  });
  child.stdin.on('error', (error: NodeJS.ErrnoException) => {
    if (stdinClosed) return;
    stdinClosed = true;
    if (error.code === 'EPIPE' || error.code === 'ECONNRESET' || error.code === 'ERR_STREAM_DESTROYED')
      events.onStdinClosed();
  });

  return {
    get pid() {
      return child.pid;
    },
    writeStdin: (chunk) => stdinClosed || child.stdin.write(chunk),
    onStdinDrain: (callback) => {
      if (stdinClosed) return callback();
      child.stdin.once('drain', callback);
      // A command that closes stdin never drains: the EPIPE must release the reader too.
      child.stdin.once('error', callback);
    },
    endStdin: () => {
      if (!stdinClosed) child.stdin.end();
    },
    signal: (signal) => signalGroup(child.pid, signal),
    resize: () => {},
    pauseOutput: () => {
      child.stdout.pause();
      child.stderr.pause();
    },
    resumeOutput: () => {
      child.stdout.resume();
      child.stderr.resume();
    },
  };
}

export function signalGroup(pid: number | undefined, signal: NodeJS.Signals | number): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

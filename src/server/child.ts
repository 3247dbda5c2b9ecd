/**
 * The remote command as a child process with pipes, in its own process group
 * (so that signals and clean-up reach everything it started).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { signalNumber } from '../signals.js';

/**
 * Memory hygiene (docs/benchmarks.md). Every read of a command's output (and of a client's stdin) is
 * a fresh 64 KiB buffer, dead as soon as it is written on; V8 frees such buffers only at a garbage
 * collection, which the little JavaScript a relay runs rarely triggers: under a slow reader tens of
 * MB of dead buffers piled up (server RSS 58 → 99 MiB, and it stays there). A young-generation
 * collection every COLLECT_AFTER_BYTES relayed keeps that to a few MB (peak ~73 MiB) for well under a
 * millisecond each time. The collector is V8's `gc`, exposed the first time it is needed
 * (v8.setFlagsFromString, then a new context has it): a server that relays little never does.
 */
const COLLECT_AFTER_BYTES = 8 << 20;
type Collector = (options: { type: 'minor' }) => void;
let collector: Collector | null | undefined;
let relayed = 0;

/**
 * Counts bytes relayed to or from a command, and the bytes of requests as they are read
 * (./session.ts); every COLLECT_AFTER_BYTES, the dead read buffers go.
 */
export function relayedBytes(count: number): void {
  relayed += count;
  if (relayed < COLLECT_AFTER_BYTES) return;
  relayed = 0;
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as Collector;
    } catch {
      collector = null;
    }
  }
  collector?.({ type: 'minor' });
}

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
  child.stdout.on('data', (chunk: Buffer) => {
    relayedBytes(chunk.length);
    events.onStdout(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    relayedBytes(chunk.length);
    events.onStderr(chunk);
  });
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
    writeStdin: (chunk) => {
      relayedBytes(chunk.length);
      return stdinClosed || child.stdin.write(chunk);
    },
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

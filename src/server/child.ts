/**
 * What a running command looks like to its session, however it was started (./piped-child.ts,
 * ./direct-child.ts, ./pty-child.ts): always in its own process group, so that signals and clean-up
 * reach everything it started.
 */
import type { WorkingDirectory } from './workdir.js';

export interface SpawnSpec {
  file: string;
  argv0: string;
  args: string[];
  /** Opened beneath the base (./workdir.ts); the command starts in it, the session closes it. */
  cwd: WorkingDirectory;
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

export function signalGroup(pid: number | undefined, signal: NodeJS.Signals | number): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

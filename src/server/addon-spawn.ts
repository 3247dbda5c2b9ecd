/**
 * Commands started with the addon's spawn (native/syscalls/spawn.c: clone with CLONE_VM | CLONE_VFORK,
 * not posix_spawn, which would leave glibc's signals 32 and 33 ignored in the command) rather than
 * Node's spawn: libuv forks, which copies the page tables of the whole server and blocks its event
 * loop for ~8 ms per command here (growing with the server's memory); the vfork-style clone takes
 * under 1 ms, and starts the command in the opened working directory (fchdir: ./workdir.ts).
 * libuv does not know these children, so they are reaped here: when the child's pidfd turns readable
 * (a watch on it, native/syscalls/watch.c), or on a kernel without pidfd_open (before 5.3) on SIGCHLD.
 * The pidfd tells of this child alone: SIGCHLD goes through libuv's signal pipe to a JavaScript
 * listener that has to ask every running child whether it is the one (200 at once: 200 waitpid per
 * exit), and comes for libuv's own children too.
 */
import { closeSync } from 'node:fs';
import { syscalls, syscallsFailure, type Ending, type Syscalls } from '../native/syscalls.js';
import type { SpawnSpec } from './child.js';
import { ownChild, ownChildReaped } from './orphans.js';

/** Children reaped on SIGCHLD (no pidfd): their pid and what to call when they end. */
const running = new Map<number, (ending: Ending) => void>();
let watching = false;
/** Whether this kernel has pidfd_open; asked once, at the first spawn. */
let pidfds: boolean | undefined;

/**
 * Starts `spec` with the addon on `fds` (its 0, 1, 2) in the opened working directory; `ended` is
 * called once it has been reaped. Our copies of `fds` are closed whatever happens; the working
 * directory stays the caller's.
 */
export function spawnWithAddon(
  spec: SpawnSpec,
  fds: readonly number[],
  ended: (ending: Ending) => void,
): number {
  let pid: number;
  try {
    const native = syscalls();
    if (!native) throw new Error(`no addon: ${syscallsFailure()}`);
    pidfds ??= hasPidfd(native);
    // Before the child exists: its SIGCHLD must find the listener.
    if (!pidfds) watchChildren();
    const env = Object.entries(spec.env).map(([name, value]) => `${name}=${value}`);
    pid = native.spawn(spec.file, [spec.argv0, ...spec.args], env, spec.cwd.fd, fds);
    ownChild(pid);
  } finally {
    closeDescriptors(fds);
  }
  const reaped = (ending: Ending): void => {
    ownChildReaped(pid);
    ended(ending);
  };
  if (pidfds) awaitExit(pid, reaped);
  else running.set(pid, reaped);
  return pid;
}

export function closeDescriptors(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Not ours any more (EBADF): nothing to release.
    }
  }
}

function hasPidfd(native: Syscalls): boolean {
  try {
    closeSync(native.pidfd(process.pid));
    return true;
  } catch {
    return false;
  }
}

/** Reaps `pid` once its pidfd turns readable; on any failure it is left to SIGCHLD. */
function awaitExit(pid: number, ended: (ending: Ending) => void): void {
  const native = syscalls()!;
  let fd: number;
  try {
    fd = native.pidfd(pid);
  } catch {
    return bySignal(pid, ended);
  }
  try {
    // The watch polls a duplicate of its own: ours is not needed past this call.
    native.watch(fd, () => {
      let ending: Ending | null;
      try {
        ending = native.reap(pid);
      } catch {
        // ECHILD: reaped by someone else; how it ended is lost.
        ending = { code: null, signal: null };
      }
      if (ending) ended(ending);
      // Readable but not reapable (cannot happen for an exited child): SIGCHLD will tell.
      else bySignal(pid, ended);
    });
  } catch {
    bySignal(pid, ended);
  } finally {
    closeSync(fd);
  }
}

/** Left to SIGCHLD: listened to from now on, and asked at once in case it has exited already. */
function bySignal(pid: number, ended: (ending: Ending) => void): void {
  running.set(pid, ended);
  watchChildren();
  reapEnded();
}

function watchChildren(): void {
  if (watching) return;
  watching = true;
  // SIGCHLD also comes for libuv's own children; signals coalesce, so every one of ours is asked.
  process.on('SIGCHLD', reapEnded);
}

function reapEnded(): void {
  const native = syscalls()!;
  for (const [pid, ended] of running) {
    let ending: Ending | null;
    try {
      ending = native.reap(pid);
    } catch {
      // ECHILD: reaped by someone else; how it ended is lost.
      ending = { code: null, signal: null };
    }
    if (ending === null) continue;
    running.delete(pid);
    ended(ending);
  }
}

/**
 * The command on the client's own stdin, stdout and stderr (passed over the local socket): nothing to
 * relay, so the session ends when the command does.
 *
 * Started with the addon's spawn (native/fdpass/spawn.c: clone with CLONE_VM | CLONE_VFORK, not
 * posix_spawn, which would leave glibc's signals 32 and 33 ignored in the command) rather than Node's
 * spawn: libuv forks, which copies the page tables of the whole server and blocks its event loop for
 * ~8 ms per command here (growing with the server's memory); the vfork-style clone takes under 1 ms.
 * libuv does not know these children, so they are reaped here, on SIGCHLD.
 */
import { closeSync } from 'node:fs';
import { fdpass, fdpassFailure, type Ending } from '../native/fdpass.js';
import { signalGroup, type ChildEvents, type RunningChild, type SpawnSpec } from './child.js';

const running = new Map<number, (ending: Ending) => void>();
let watching = false;

/** Our copies of the descriptors are closed once the child has its own, whatever happens. */
export function spawnDirect(spec: SpawnSpec, fds: readonly number[], events: ChildEvents): RunningChild {
  let pid: number;
  try {
    const native = fdpass();
    if (!native) throw new Error(`no addon: ${fdpassFailure()}`);
    // Before the child exists: its SIGCHLD must find the listener.
    watchChildren();
    const env = Object.entries(spec.env).map(([name, value]) => `${name}=${value}`);
    pid = native.spawn(spec.file, [spec.argv0, ...spec.args], env, spec.cwd, fds);
  } finally {
    closeDescriptors(fds);
  }
  running.set(pid, (ending) => events.onExit(ending.code, ending.signal));
  return {
    pid,
    writeStdin: () => true,
    onStdinDrain: (callback) => callback(),
    endStdin: () => {},
    signal: (signal) => signalGroup(pid, signal),
    resize: () => {},
    pauseOutput: () => {},
    resumeOutput: () => {},
  };
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

function watchChildren(): void {
  if (watching) return;
  watching = true;
  // SIGCHLD also comes for libuv's own children; signals coalesce, so every one of ours is asked.
  process.on('SIGCHLD', reapEnded);
}

function reapEnded(): void {
  const native = fdpass()!;
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

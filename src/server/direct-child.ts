/**
 * The command on the client's own stdin, stdout and stderr (passed over the local socket): nothing to
 * relay, so the session ends when the command does. Started and reaped by ./addon-spawn.ts.
 */
import { signalGroup, type ChildEvents, type RunningChild, type SpawnSpec } from './child.js';
import { spawnWithAddon } from './addon-spawn.js';

/** Our copies of the descriptors are closed once the child has its own, whatever happens. */
export function spawnDirect(spec: SpawnSpec, fds: readonly number[], events: ChildEvents): RunningChild {
  const pid = spawnWithAddon(spec, fds, (ending) => events.onExit(ending.code, ending.signal));
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

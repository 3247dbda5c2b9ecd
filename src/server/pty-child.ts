/**
 * The remote command in a pseudo-terminal (node-pty), for clients that asked
 * for one. stdout and stderr are one stream, as with ssh -t.
 */
import type { IPty } from 'node-pty';
import { syscalls } from '../native/syscalls.js';
import { loadPty } from '../native/pty.js';
import { PtyInput } from './pty-input.js';
import { descriptorPath } from './workdir.js';
import { signalGroup, type ChildEvents, type RunningChild, type SpawnSpec } from './child.js';
import { ownChild, ownChildReaped } from './orphans.js';

/**
 * Input through our own duplicate of the master (./pty-input.ts): node-pty's writes may outlive its
 * descriptor. Without the addon to duplicate it, node-pty's own write (and its hazard) remains.
 */
function inputOf(child: IPty): Pick<PtyInput, 'write' | 'onDrain' | 'close'> {
  const master = (child as unknown as { fd?: unknown }).fd;
  const native = syscalls();
  if (native && typeof master === 'number') {
    try {
      return new PtyInput(native.dup(master));
    } catch {
      // Out of descriptors: node-pty's own write, below.
    }
  }
  return {
    write: (chunk) => {
      child.write(chunk);
      return true;
    },
    onDrain: (callback) => callback(),
    close: () => {},
  };
}

/** VEOF: what a terminal user types to end input. */
const END_OF_INPUT = Buffer.from([4]);

export async function spawnPty(spec: SpawnSpec, events: ChildEvents): Promise<RunningChild> {
  const { spawn } = await loadPty();
  const tty = spec.tty!;
  const child = spawn(spec.file, spec.args, {
    name: tty.term,
    rows: tty.rows,
    cols: tty.cols,
    // The opened working directory itself: node-pty's child chdirs there before exec.
    cwd: descriptorPath(spec.cwd.fd),
    env: spec.env,
    encoding: null,
  });
  ownChild(child.pid);
  const input = inputOf(child);
  child.onData((data) => events.onStdout(data as unknown as Buffer));
  child.onExit(({ exitCode, signal }) => {
    ownChildReaped(child.pid);
    input.close();
    events.onStdoutEnd();
    events.onStderrEnd();
    events.onExit(signal ? null : exitCode, signal || null);
  });
  return {
    pid: child.pid,
    writeStdin: (chunk) => input.write(chunk),
    onStdinDrain: (callback) => input.onDrain(callback),
    endStdin: () => input.write(END_OF_INPUT),
    // node-pty's child leads its own session and process group.
    signal: (signal) => signalGroup(child.pid, signal),
    resize: (rows, cols) => child.resize(cols, rows),
    pauseOutput: () => child.pause(),
    resumeOutput: () => child.resume(),
  };
}

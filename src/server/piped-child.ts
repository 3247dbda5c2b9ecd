/**
 * A relayed command: its stdin, stdout and stderr are sockets whose other ends the server reads and
 * writes, with back-pressure both ways (./connection.ts).
 *
 * With the addon, the command is started as a passed-descriptor one is (./addon-spawn.ts: in the
 * opened working directory, dying with the server) on socketpairs the addon makes; the server's ends
 * become net.Sockets, as child_process makes them from libuv's own socketpairs. Without the addon,
 * Node's spawn, told to start in /proc/self/fd/N: the opened directory, not its path again.
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { syscalls, type Syscalls } from '../native/syscalls.js';
import { signalNumber } from '../signals.js';
import { closeDescriptors, spawnWithAddon } from './addon-spawn.js';
import { signalGroup, type ChildEvents, type RunningChild, type SpawnSpec } from './child.js';
import { ownChild, ownChildReaped } from './orphans.js';
import { descriptorPath } from './workdir.js';

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
 * (./connection.ts); every COLLECT_AFTER_BYTES, the dead read buffers go.
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

/** The server's ends of a started command's stdio; `pid` undefined until Node's spawn has one. */
interface Started {
  readonly pid: number | undefined;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
}

type Exited = (code: number | null, signal: number | null) => void;

export function spawnPiped(spec: SpawnSpec, events: ChildEvents): RunningChild {
  let exit: [number | null, number | null] | null = null;
  let openOutputs = 2;
  const settle = (): void => {
    if (exit && openOutputs === 0) events.onExit(exit[0], exit[1]);
  };
  const exited: Exited = (code, signal) => {
    exit = [code, signal];
    settle();
  };
  const native = syscalls();
  // The addon's spawn throws for a command that cannot start (ENOENT, E2BIG, ...): the caller refuses.
  const child = native ? startWithAddon(native, spec, exited) : startWithNode(spec, exited, events);
  let stdinClosed = false;

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
  // A read error (ECONNRESET) ends the stream as a close would.
  for (const output of [child.stdout, child.stderr]) output.on('error', () => {});
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

/** Three socketpairs; the command gets one end of each as its 0, 1, 2, the server the other. */
function startWithAddon(native: Syscalls, spec: SpawnSpec, exited: Exited): Started {
  const pairs: [number, number][] = [];
  let pid: number;
  try {
    for (let i = 0; i < 3; i++) pairs.push(native.socketpair());
  } catch (error) {
    closeDescriptors(pairs.flat());
    throw error;
  }
  try {
    // spawnWithAddon closes the command's ends, whatever happens.
    pid = spawnWithAddon(
      spec,
      pairs.map(([, theirs]) => theirs),
      (ending) => exited(ending.code, ending.signal),
    );
  } catch (error) {
    closeDescriptors(pairs.map(([ours]) => ours));
    throw error;
  }
  const [stdin, stdout, stderr] = pairs.map(([ours], i) =>
    i === 0
      ? new Socket({ fd: ours, readable: false, writable: true })
      : new Socket({ fd: ours, writable: false }),
  ) as [Socket, Socket, Socket];
  return { pid, stdin, stdout, stderr };
}

function startWithNode(spec: SpawnSpec, exited: Exited, events: ChildEvents): Started {
  const child = spawn(spec.file, spec.args, {
    argv0: spec.argv0,
    cwd: descriptorPath(spec.cwd.fd),
    env: spec.env,
    detached: true,
    stdio: 'pipe',
  });
  if (child.pid !== undefined) ownChild(child.pid);
  child.on('error', (error: NodeJS.ErrnoException) => {
    if (child.pid === undefined) events.onSpawnError(error);
  });
  child.on('exit', (code, signal) => {
    ownChildReaped(child.pid!);
    exited(code, signal ? (signalNumber(signal) ?? null) : null);
  });
  return {
    get pid() {
      return child.pid;
    },
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

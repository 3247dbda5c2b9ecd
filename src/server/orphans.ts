/**
 * Reaping orphans (issue 21). In a Pod k8pshd is its container's PID 1 (config/k8s/build-pod.yaml),
 * so whatever a command leaves behind (`sleep 1 &`, a daemon, a crashed build's helpers) becomes the
 * server's child when its own parent exits, and stays a zombie until the server waits for it.
 * Elsewhere the server makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so the same
 * holds under any parent, and its commands' leftovers do not pile up on an init that never reaps.
 *
 * A reaper that waits for any child (tini's waitpid(-1)) would take exit statuses that belong to
 * others. Three waiters share this process, each waiting for its own pids only:
 * - the commands the addon starts (./addon-spawn.ts: direct and relayed ones): reap(pid) when the
 *   child's pidfd turns readable, or on SIGCHLD, both on the main thread;
 * - libuv, for relayed commands when the addon is missing (./piped-child.ts): waitpid(pid, WNOHANG)
 *   for each of its children on SIGCHLD, on the main thread; a child reaped by someone else is
 *   never reported (its session would hang) — without the addon nothing is reaped here anyway;
 * - node-pty, for terminal commands (./pty-child.ts): a blocking waitpid(pid) in a thread of its
 *   own; a child reaped by someone else is reported with a made-up status.
 * So every spawn site registers the pid it gets here (ownChild) as soon as spawn returns, and takes
 * it out (ownChildReaped) once its own waiter has reaped it; a scan reaps, with waitpid(pid,
 * WNOHANG), only children that are not registered. Spawns, registrations and scans all run on the
 * main thread, so no scan falls between a fork and its registration. A registered pid cannot be
 * reused: until its waiter reaps it the process, running or zombie, holds it. Once unregistered, the
 * pid is free and may come back as a new child of ours (registered again before any scan can see
 * it) or as an orphan (then ours to reap). The one gap is node-pty's: its thread reaps at once, but
 * tells the main thread only once the terminal has closed (a background process may hold it open),
 * so meanwhile a freed pid is still registered and an orphan that reuses it is passed over, until
 * ownChildReaped, which schedules a scan. The pids would have to wrap around within that time.
 *
 * The scan lists our children from /proc/self/task/PID/children, the main thread's: every spawn
 * above runs on it, and the kernel hands an orphan to the first live thread of its reaper, which is
 * the main thread (Node's never exits before the process). Where the kernel lacks that file (no
 * CONFIG_PROC_CHILDREN) it reads every /proc/PID/stat for state Z and us as the parent. It runs on
 * SIGCHLD, coalesced: at most one scan per SCAN_DELAY_MS on an unref'd timer, so a burst of exits
 * costs one scan, a command's exit adds one listener call (5-10 us of CPU here) to its server, and a
 * SIGCHLD during a scan schedules the next one. A scan reads one small file (tens of microseconds);
 * the fallback one per process of the PID namespace (about 2 ms for 90), few in a container.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { syscalls } from '../native/syscalls.js';

const SCAN_DELAY_MS = 100;

/** Pids the server started itself, from spawn until their own waiter has reaped them. */
const owned = new Set<number>();
let reaping = false;
let scanTimer: NodeJS.Timeout | null = null;
let childrenFile = false;
let log: Logger | null = null;

/** A spawn site's child: never reaped here. Call as soon as spawn returned its pid. */
export function ownChild(pid: number): void {
  owned.add(pid);
}

/** The spawn site's waiter has reaped `pid`: the number may come back as anyone's. */
export function ownChildReaped(pid: number): void {
  owned.delete(pid);
  if (reaping) scheduleScan();
}

/**
 * From now on, every child that is not registered is reaped once it has exited. As PID 1 that is
 * any orphan in the PID namespace; otherwise the server first becomes a child subreaper. Returns
 * why it cannot, or null.
 */
export function reapOrphans(logger: Logger): string | null {
  const native = syscalls();
  if (!native) return 'no syscalls addon';
  if (readlinkSafe('/proc/self') !== String(process.pid))
    return "/proc is not this PID namespace's: orphans cannot be listed";
  if (process.pid !== 1) {
    try {
      native.subreaper();
    } catch (error) {
      return `cannot become a child subreaper: ${(error as Error).message}`;
    }
  }
  childrenFile = readableChildrenFile();
  log = logger;
  reaping = true;
  process.on('SIGCHLD', scheduleScan);
  // Children we have from before (an exec'ing shell's, as PID 1) may have exited already.
  scheduleScan();
  return null;
}

function scheduleScan(): void {
  if (scanTimer) return;
  scanTimer = setTimeout(scan, SCAN_DELAY_MS).unref();
}

function scan(): void {
  scanTimer = null;
  const native = syscalls()!;
  const reaped: [number, number | string][] = [];
  for (const pid of childrenFile ? listedChildren() : zombieChildren()) {
    if (owned.has(pid)) continue;
    try {
      const ending = native.reap(pid);
      if (ending) reaped.push([pid, ending.code ?? `signal ${ending.signal}`]);
    } catch {
      // ECHILD: gone already (the list may be stale by the time it is read).
    }
  }
  if (reaped.length > 0 && log?.isLevelEnabled('debug')) log.debug({ reaped }, 'orphans reaped');
}

/** Every child of ours, running or not (a running one answers reap with null). */
function listedChildren(): number[] {
  const pids: number[] = [];
  let list = '';
  try {
    list = readFileSync(`/proc/self/task/${process.pid}/children`, 'latin1');
  } catch {
    // Cannot happen once readableChildrenFile() said yes; nothing to reap this time.
  }
  for (const word of list.split(' ')) if (word) pids.push(Number(word));
  return pids;
}

/** Our exited children, from every process's stat: slower, for kernels without the children files. */
function zombieChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 2);
      if (state === 'Z' && Number(ppid) === process.pid) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function readableChildrenFile(): boolean {
  try {
    readFileSync(`/proc/self/task/${process.pid}/children`);
    return true;
  } catch {
    return false;
  }
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readlinkSafe(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

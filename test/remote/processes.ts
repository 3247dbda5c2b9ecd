/**
 * What the remote failure tests look at from outside: a command's processes on the tools node (by
 * the pids it wrote into the workspace, mapped to this side's pids when the server has a PID
 * namespace of its own), a stub's output as it comes, a daemon's log lines, a stub's one-line error.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sleep } from '../e2e/harness.js';
import type { Daemon } from './cluster.js';

/** Exists and is not a zombie (a zombie has been ended; only its parent's wait is missing). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves true once none of `pids` runs, false if some still does after `ms`. */
export async function allGone(pids: readonly number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(running)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** The whitespace-separated pids a command wrote to `file`, once it is complete (ends in a newline). */
export async function pidsIn(file: string, ms = 10000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.endsWith('\n')) return text.trim().split(/\s+/).map(Number);
    if (Date.now() > deadline)
      throw new Error(`${file} not written within ${ms} ms: ${JSON.stringify(text)}`);
    await sleep(20);
  }
}

/**
 * This side's pids of processes that see themselves as `inner` in the PID namespace of `member`
 * (the last NSpid field is the pid in the innermost namespace). Without a namespace of its own the
 * pids are the same.
 */
export function hostPids(member: number, inner: readonly number[]): number[] {
  const namespace = readlinkSync(`/proc/${member}/ns/pid`);
  if (namespace === readlinkSync('/proc/self/ns/pid')) return [...inner];
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) !== namespace) continue;
      const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      const ids = (line ?? '').trim().split(/\s+/).map(Number);
      found.set(ids[ids.length - 1]!, Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return inner.map((pid) => {
    const host = found.get(pid);
    if (host === undefined) throw new Error(`no process ${pid} in the namespace of ${member}`);
    return host;
  });
}

/** Everything a child wrote on `stream`, as it comes. */
export function collect(child: ChildProcess, stream: 'stdout' | 'stderr'): () => string {
  let text = '';
  child[stream]!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** Resolves when `read()` matches `pattern`; rejects after `ms`. */
export async function waitUntil(read: () => string, pattern: RegExp, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`not seen within ${ms} ms: ${pattern}\n${read()}`);
    await sleep(20);
  }
}

/**
 * The exit code (or signal) of a spawned child and when it came, resolved once its output is read
 * too ('close'; 'exit' may come first), or 3 s after the exit if something else holds its pipes.
 */
export function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      if (child.exitCode !== null || child.signalCode !== null)
        return resolve({ code: child.exitCode, signal: child.signalCode, at: Date.now() });
      child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    },
  );
  return exited.then((exit) => Promise.race([closed, sleep(3000)]).then(() => exit));
}

/** How many times `pattern` (global) occurs in a daemon's log so far. */
export function count(daemon: Daemon, pattern: RegExp): number {
  return daemon.stderr().match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

/** Resolves once `pattern` occurs more than `already` times in the daemon's log. */
export function waitForMore(daemon: Daemon, pattern: RegExp, already: number, ms = 20000): Promise<void> {
  return waitUntil(() => String(count(daemon, pattern) > already), /^true$/, ms).catch(() => {
    throw new Error(`${pattern} not seen a ${already + 1}th time within ${ms} ms:\n${daemon.stderr()}`);
  });
}

/** The daemon's log lines (pino JSON) that parse, with `msg` matching `message`. */
export function logLines(daemon: Daemon, message: RegExp): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of daemon.stderr().split('\n')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry.msg === 'string' && message.test(entry.msg)) lines.push(entry);
    } catch {
      // Not a JSON line.
    }
  }
  return lines;
}

/** The one line of a stub's error output (the tests assert there is exactly one). */
export function lines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '');
}

/**
 * File descriptors, counted before they run out (docs/limits.md, "Descriptors"). At the limit
 * (RLIMIT_NOFILE), libuv accepts a connection and closes it at once to get past it, and a recvmsg
 * drops the descriptors a stub passed: the client sees its connection reset and says that it was
 * lost, though nothing ran. So the server admits a connection only while the descriptors it may
 * hold fit under the limit with a reserve to spare, and refuses the next one in words.
 *
 * Each connection counts CONNECTION_DESCRIPTORS from its accept to its close: a waiting local one
 * holds its socket and the three descriptors it passed; a relayed command its socket, its three
 * socketpair ends and the watch on its pidfd. The reserve covers the one spawn in progress (the
 * working directory, the command's ends of its socketpairs, its pidfd: the event loop runs one at a
 * time), a refusal being written, and what Node and its libraries open meanwhile.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const CONNECTION_DESCRIPTORS = 5;
export const RESERVE_DESCRIPTORS = 24;

export class DescriptorBudget {
  private held = 0;

  /**
   * `limit`: the soft RLIMIT_NOFILE (Infinity when unknown: nothing is counted); `baseline`: what
   * the server holds before any connection (its listeners, Node's own).
   */
  constructor(
    readonly limit = openFileLimit(),
    private readonly baseline = openDescriptors(),
  ) {}

  /** Takes `count` descriptors; false (nothing taken) when they would eat into the reserve. */
  take(count: number): boolean {
    if (this.baseline + this.held + count + RESERVE_DESCRIPTORS > this.limit) return false;
    this.held += count;
    return true;
  }

  give(count: number): void {
    this.held -= count;
  }
}

/** The soft limit on open files, from /proc/self/limits (Node has no getrlimit). */
export function openFileLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line?.[1] && line[1] !== 'unlimited' ? Number(line[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

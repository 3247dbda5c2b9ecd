/**
 * The memory of a process seen from the host, in bytes: what /proc/PID/status and smaps_rollup say,
 * and what its anonymous memory files hold. Used to compare k8pshd started from an image volume, from
 * the init container's copy in a memory-backed emptyDir, and as a lone executable with nowhere to
 * write (test/podman/image-volume.test.ts).
 *
 * - RssAnon: its own heap and stacks. RssFile: pages of ordinary files it maps (the page cache,
 *   shared with every process mapping the same file). RssShmem: pages of tmpfs files and memory files
 *   it maps (an emptyDir with medium Memory is a tmpfs).
 * - Pss_*: the same, each page divided by the number of processes mapping it.
 * - memfdBytes: the whole size of the memory files (memfd_create) it maps: resident whether or not
 *   mapped pages were touched, and private to that process (the lone executable's runtime).
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';

export interface ProcessMemory {
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  pssAnon: number;
  pssFile: number;
  pssShmem: number;
  memfdBytes: number;
  /** The distinct files it maps whose path holds `.k8psh-runtime-` (as the process sees them). */
  runtimeFiles: string[];
}

function kilobytes(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (match === null) throw new Error(`no ${field}`);
  return Number(match[1]) * 1024;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const memfds = new Map<string, number>();
  const runtime = new Set<string>();
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    // address perms offset dev inode path
    const fields = line.split(/\s+/);
    const [range, , , , inode] = fields;
    const file = fields.slice(5).join(' ');
    if (range === undefined || inode === undefined) continue;
    if (file.startsWith('/memfd:') && !memfds.has(inode)) {
      // map_files/<start>-<end> (no leading zeros) is the mapped file itself: its size is the file's.
      const name = range
        .split('-')
        .map((address) => address.replace(/^0+(?=.)/, ''))
        .join('-');
      memfds.set(inode, statSync(`/proc/${pid}/map_files/${name}`).size);
    }
    if (file.includes('.k8psh-runtime-')) runtime.add(file);
  }
  return {
    rssAnon: kilobytes(status, 'RssAnon'),
    rssFile: kilobytes(status, 'RssFile'),
    rssShmem: kilobytes(status, 'RssShmem'),
    pssAnon: kilobytes(rollup, 'Pss_Anon'),
    pssFile: kilobytes(rollup, 'Pss_File'),
    pssShmem: kilobytes(rollup, 'Pss_Shmem'),
    memfdBytes: [...memfds.values()].reduce((a, b) => a + b, 0),
    runtimeFiles: [...runtime].sort(),
  };
}

/** The program a process runs, as the process sees it (its /proc/PID/exe). */
export function executableOf(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`);
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

import { chmodSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, giving `mode` to what it creates. Not `mkdirSync(dir, { recursive: true })`: on a
 * filesystem whose mkdir answers ENOENT inside an existing directory (procfs), Node 20's recursive
 * mkdir loops forever.
 */
export function makeDirectories(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    try {
      if (!statSync(current).isDirectory()) throw new Error(`${current}: not a directory`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(current) === current) throw error;
      missing.push(current);
    }
  }
  for (const directory of missing.reverse()) {
    try {
      mkdirSync(directory, mode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** A directory we own with no group/other access; tightens one of ours, refuses anything else. */
export function ensurePrivateDirectory(dir: string): void {
  let stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new Error(`${dir}: not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new Error(`${dir}: owned by uid ${stat.uid}, not ${uid}`);
  if ((stat.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    stat = lstatSync(dir);
    if ((stat.mode & 0o077) !== 0) throw new Error(`${dir}: cannot make it private`);
  }
}

import { mkdirSync, statSync } from 'node:fs';
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

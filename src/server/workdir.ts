/**
 * Where a session runs: the server's baseDirectory joined with the client's
 * relative path. The path must stay inside the base, also after symlinks are
 * resolved: a client computes it from its physical current directory, so an
 * honest client never needs to leave the base.
 *
 * Every call resolves the paths again (a symlink may have been swapped since), with libc's
 * realpath (realpathSync.native): Node's own walks the path in JavaScript, one lstat at a time,
 * which was most of the server's time per session outside spawning.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { printable } from '../protocol/printable.js';

export function resolveWorkingDirectory(
  baseDirectory: string,
  requested: string,
): { path: string } | { error: string } {
  // Made only for an error: the path as the client should see it.
  const shown = (): string => printable(requested);
  if (requested.includes('\0')) return { error: `invalid working directory "${shown()}" (contains NUL)` };
  if (isAbsolute(requested))
    return {
      error: `invalid working directory "${shown()}" (absolute; it must be relative to the base directory)`,
    };
  const base = realOr(baseDirectory);
  const joined = resolve(base, requested);
  if (!inside(base, joined))
    return { error: `invalid working directory "${shown()}" (outside the base directory)` };
  let real: string;
  try {
    real = realpathSync.native(joined);
    if (!statSync(real).isDirectory()) return { error: `working directory ${joined} is not a directory` };
  } catch {
    return { error: `working directory ${joined} does not exist` };
  }
  if (!inside(base, real))
    return { error: `invalid working directory "${shown()}" (a symlink leads outside the base directory)` };
  return { path: joined };
}

function inside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function realOr(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

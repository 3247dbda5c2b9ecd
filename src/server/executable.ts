/**
 * Finding the executable as a shell does (docs/configuration.md, "Commands"): a name with a `/` is a
 * path, relative ones to the working directory; a bare name is looked up on the PATH of the
 * command's own environment only (default /bin:/usr/bin). The original tried every name relative
 * to the working directory first, so an executable `cat` that a client planted there ran as the
 * server (docs/security.md). The failures are reported as a shell would.
 *
 * `directory` reaches the opened working directory without resolving its path again
 * (/proc/self/fd/N: ./workdir.ts). A candidate relative to it is returned relative, with a `/`, so
 * that exec resolves it in the directory the command starts in, and never searches PATH again.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { posix } from 'node:path';
import { ExitCode } from '../protocol/constants.js';

export const DEFAULT_PATH = '/bin:/usr/bin';

export type Lookup = { path: string } | { error: string; code: number };

export function findExecutable(name: string, directory: string, searchPath = DEFAULT_PATH): Lookup {
  if (name === '') return { error: 'empty executable name', code: ExitCode.NOT_FOUND };
  let denied = false;
  // Candidates are made one at a time: the first that is executable ends the search.
  const executable = (candidate: string): Lookup | null => {
    const checked = posix.isAbsolute(candidate) ? candidate : `${directory}/${candidate}`;
    const verdict = check(checked);
    if (verdict === 'denied') denied = true;
    return verdict === 'ok' ? { path: candidate } : null;
  };
  if (name.includes('/')) {
    const found = executable(posix.isAbsolute(name) || name.startsWith('./') ? name : `./${name}`);
    if (found) return found;
  } else {
    for (const dir of searchPath.split(':')) {
      // An empty entry is the working directory, as for a shell.
      const found = executable(`${dir === '' ? '.' : dir.replace(/\/+$/, '')}/${name}`);
      if (found) return found;
    }
  }
  if (denied) return { error: `${name}: Permission denied`, code: ExitCode.NOT_EXECUTABLE };
  return { error: `${name}: command not found`, code: ExitCode.NOT_FOUND };
}

function check(path: string): 'ok' | 'denied' | 'missing' {
  try {
    // Most PATH candidates are missing: no exception for that, building one costs more than the stat.
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats) return 'missing';
    if (stats.isDirectory()) return 'denied';
    accessSync(path, constants.X_OK);
    return 'ok';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EACCES' ? 'denied' : 'missing';
  }
}

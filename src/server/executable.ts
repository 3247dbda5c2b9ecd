/**
 * Finding the executable as SPEC A4 says: first as a path relative to the
 * working directory, then on the PATH of the command's own environment
 * (default /bin:/usr/bin). The failures are reported as a shell would.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ExitCode } from '../protocol/constants.js';

export const DEFAULT_PATH = '/bin:/usr/bin';

export type Lookup = { path: string } | { error: string; code: number };

export function findExecutable(name: string, workingDirectory: string, searchPath = DEFAULT_PATH): Lookup {
  if (name === '') return { error: 'empty executable name', code: ExitCode.NOT_FOUND };
  let denied: string | undefined;
  // Candidates are made one at a time: the first that is executable ends the search.
  const executable = (candidate: string): boolean => {
    const verdict = check(candidate);
    if (verdict === 'denied') denied ??= candidate;
    return verdict === 'ok';
  };
  const relative = resolve(workingDirectory, name);
  if (executable(relative)) return { path: relative };
  if (!isAbsolute(name) && !name.includes('/'))
    for (const dir of searchPath.split(':')) {
      const candidate = join(resolve(workingDirectory, dir || '.'), name);
      if (executable(candidate)) return { path: candidate };
    }
  if (denied) return { error: `${name}: Permission denied`, code: ExitCode.NOT_EXECUTABLE };
  return { error: `${name}: command not found`, code: ExitCode.NOT_FOUND };
}

function check(path: string): 'ok' | 'denied' | 'missing' {
  try {
    // The first candidate (relative to the working directory) is usually missing: no exception for
    // that, building one costs more than the stat.
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats) return 'missing';
    if (stats.isDirectory()) return 'denied';
    accessSync(path, constants.X_OK);
    return 'ok';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EACCES' ? 'denied' : 'missing';
  }
}

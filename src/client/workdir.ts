/** The current directory relative to baseDirectory (docs/session.md, "The client", step 2). */
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { SetupError } from '../errors.js';

export function relativeWorkingDirectory(baseDirectory: string, cwd = process.cwd()): string {
  // Compare physical paths: getcwd() resolves symlinks, the configured base may not.
  const base = realpathOr(baseDirectory);
  const rel = relative(base, cwd);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw new SetupError(`the current directory ${cwd} is outside the base directory ${baseDirectory}`);
  return rel;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

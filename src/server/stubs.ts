/**
 * Client stubs: one file per remote command, named after it. In the single
 * executable a stub is a symlink to it (works in images without a shell, as
 * the original); run from sources it is a #!/bin/sh script with absolute paths.
 */
import { lstatSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isSea } from 'node:sea';
import { selfExecutable } from '../runtime/self.js';
import { makeDirectories } from '../mkdirp.js';

const SCRIPT_MARKER = '# k8psh stub';

export interface StubPlan {
  directory: string;
  names: string[];
  overwrite: boolean;
}

export function stubTarget(): { kind: 'symlink' | 'script'; target: string } {
  return isSea()
    ? { kind: 'symlink', target: selfExecutable() }
    : { kind: 'script', target: selfExecutable() };
}

/** Creates the stubs; returns the files created. Refuses to replace a file that is not a stub unless `overwrite`. */
export function createStubs(plan: StubPlan): string[] {
  try {
    makeDirectories(plan.directory);
  } catch (error) {
    throw new Error(`cannot create the executable directory ${plan.directory}: ${reason(error)}`, {
      cause: error,
    });
  }
  const { kind, target } = stubTarget();
  const created: string[] = [];
  try {
    for (const name of plan.names) {
      const file = join(plan.directory, name);
      const existing = inspect(file);
      if (existing === 'foreign' && !plan.overwrite)
        throw new Error(
          `refusing to replace ${file}: it is not a k8psh stub (use --overwrite-client-executables)`,
        );
      try {
        if (existing !== 'missing') rmSync(file, { force: true, recursive: false });
        if (kind === 'symlink') symlinkSync(target, file);
        else
          writeFileSync(
            file,
            `#!/bin/sh\n${SCRIPT_MARKER}\nexec ${quote(process.execPath)} ${quote(target)} ${quote(name)} "$@"\n`,
            { mode: 0o755 },
          );
      } catch (error) {
        throw new Error(`cannot create the client executable ${file}: ${reason(error)}`, { cause: error });
      }
      created.push(file);
    }
  } catch (error) {
    // No half set of stubs left behind.
    removeFiles(created);
    throw error;
  }
  return created;
}

/** `ENOTDIR (not a directory)` from a Node error, without the repeated path. */
function reason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const text = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return code ? `${code} (${text})` : text;
}

/** Deletes stubs of ours (never another file) for these names: stale ones from an earlier run. */
export function deleteStubs(directory: string, names: readonly string[]): void {
  for (const name of names) {
    const file = join(directory, name);
    if (inspect(file) === 'stub') rmSync(file, { force: true });
  }
}

export function removeFiles(files: readonly string[]): void {
  for (const file of files) rmSync(file, { force: true });
}

function inspect(file: string): 'missing' | 'stub' | 'foreign' {
  let stat;
  try {
    stat = lstatSync(file);
  } catch {
    return 'missing';
  }
  try {
    if (stat.isSymbolicLink()) {
      const link = readlinkSync(file);
      const name = basename(link);
      return link === process.execPath ||
        resolve(link) === selfExecutable() ||
        name === 'k8psh' ||
        name === 'k8pshd'
        ? 'stub'
        : 'foreign';
    }
    if (stat.isFile() && stat.size < 4096 && readFileSync(file, 'utf8').includes(SCRIPT_MARKER))
      return 'stub';
  } catch {
    // Unreadable: not provably ours.
  }
  return 'foreign';
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * Where a session runs: the server's baseDirectory joined with the client's relative path, which
 * must stay inside the base, also through symlinks (docs/security.md, "Working directory"). A client
 * computes the path from its physical current directory, so an honest client never leaves the base.
 *
 * The directory is opened, not checked: openat2(RESOLVE_BENEATH) in the addon gives a descriptor
 * of the directory it resolved beneath the base, and the command starts in that very directory
 * (fchdir, or /proc/self/fd/N for children the addon does not start). A path checked and then
 * resolved again by chdir left a window: a client-writable component swapped for a symlink to /etc
 * in between ran 380 of 1,800 commands in /etc.
 */
import { closeSync, constants, lstatSync, openSync } from 'node:fs';
import { isAbsolute, posix, resolve } from 'node:path';
import { syscalls } from '../native/syscalls.js';
import { printable } from '../protocol/printable.js';

/** The opened working directory: the descriptor the command starts in, and its path for messages. */
export interface WorkingDirectory {
  fd: number;
  path: string;
}

/** How a spawn outside the addon reaches the opened directory without resolving a path again. */
export function descriptorPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Not in Node's constants: the same value on every Linux architecture we build for. */
const O_PATH = 0o10000000;

export function openWorkingDirectory(
  baseDirectory: string,
  requested: string,
): WorkingDirectory | { error: string } {
  // Made only for an error: the path as the client should see it.
  const shown = (): string => printable(requested);
  if (requested.includes('\0')) return { error: `invalid working directory "${shown()}" (contains NUL)` };
  if (isAbsolute(requested))
    return {
      error: `invalid working directory "${shown()}" (absolute; it must be relative to the base directory)`,
    };
  // `..` is taken on the path as written (`link/..` is the base, wherever link points), before any
  // symlink is looked at; what is left has no `..` unless it leads out.
  const relative = posix.normalize(requested);
  if (relative === '..' || relative.startsWith('../'))
    return { error: `invalid working directory "${shown()}" (outside the base directory)` };
  const inside = relative === '.' ? '' : relative.replace(/\/+$/, '');
  const path = resolve(baseDirectory, inside);
  try {
    const native = syscalls();
    return {
      fd: native ? native.openBeneath(baseDirectory, inside) : walkBeneath(baseDirectory, inside),
      path,
    };
  } catch (error) {
    return { error: refusal((error as NodeJS.ErrnoException).code, shown(), path) };
  }
}

function refusal(code: string | undefined, shown: string, path: string): string {
  switch (code) {
    case 'EXDEV':
      return `invalid working directory "${shown}" (a symlink leads outside the base directory or is absolute)`;
    case 'ELOOP':
      return `invalid working directory "${shown}" (too many symlinks, or a symlink this server does not follow)`;
    case 'ENOENT':
      return `working directory ${path} does not exist`;
    case 'ENOTDIR':
      return `working directory ${path} is not a directory`;
    case 'EACCES':
      return `working directory ${path}: permission denied`;
    default:
      return `working directory ${path} cannot be opened (${code ?? 'unknown error'})`;
  }
}

/**
 * Without the addon: one component at a time through the previous one's descriptor, never
 * following a symlink (ELOOP), as beneath.c does on kernels without openat2. Exported for its tests.
 */
export function walkBeneath(base: string, relative: string): number {
  const flags = O_PATH | constants.O_DIRECTORY;
  let fd = openSync(base, flags);
  try {
    for (const part of relative.split('/')) {
      if (part === '') continue;
      let next: number;
      try {
        next = openSync(`${descriptorPath(fd)}/${part}`, flags | constants.O_NOFOLLOW);
      } catch (error) {
        throw symlinkNamed(error as NodeJS.ErrnoException, `${descriptorPath(fd)}/${part}`);
      }
      closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** O_PATH | O_NOFOLLOW on a symlink fails O_DIRECTORY with ENOTDIR: name it for what it is. */
function symlinkNamed(error: NodeJS.ErrnoException, path: string): NodeJS.ErrnoException {
  try {
    if (error.code === 'ENOTDIR' && lstatSync(path).isSymbolicLink()) error.code = 'ELOOP';
  } catch {
    // Gone meanwhile: the first error stands.
  }
  return error;
}

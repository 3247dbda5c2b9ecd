/**
 * Load a native addon of the single executable. Started by the front executable, the addon is a file
 * of the runtime directory (read-only, installed with it: nothing is written at run time). Otherwise
 * the copy carried inside the executable (as bytes) is materialised into a file that
 * `process.dlopen` can load.
 *
 * Where the file goes, in order:
 * 1. a private per-version cache directory:
 *    `$K8PSH_CACHE_DIR`, else `$XDG_CACHE_HOME/k8psh`, else `$HOME/.cache/k8psh`, then
 *    `<package version>-<first 16 hex digits of the sha256 of the addon>/<name>`.
 *    Both `k8psh` and the leaf directory must be real directories owned by us with no group/other
 *    access (created 0700; an existing one of ours is tightened to 0700; anything else is refused).
 *    A file already there is reused only when its bytes are the ones we carry, so a truncated or
 *    tampered file is never loaded: it is replaced (written to a temporary name, then renamed).
 * 2. when that fails (no HOME, read-only HOME, a noexec mount, foreign owner...): a fresh private
 *    directory from `mkdtemp(<tmpdir>/k8psh-)`; the file and directory are removed right after
 *    `dlopen` (the mapping stays valid on Linux), so nothing is left behind.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensurePrivateDirectory, makeDirectories } from '../mkdirp.js';
import { memoryAddon } from '../runtime/memory-fds.js';
import { runtimeDirectory } from '../runtime/self.js';
import { CACHE_CANDIDATES } from '../shared-rules.js';

export type NativeSource = 'runtime' | 'cache' | 'temp';

export interface LoadedNative {
  /** The addon's exports. */
  exports: unknown;
  /** The file it was loaded from (for `temp`, already removed). */
  path: string;
  source: NativeSource;
  /** True when an existing cached file (hash verified) was used as is. */
  reused: boolean;
  /** sha256 (hex) of the addon, as given. */
  sha256: string;
  /** Why the cache was not used, when source is `temp`. */
  cacheError?: string;
}

export interface LoadNativeOptions {
  /** File name, e.g. `pty.node`. */
  name: string;
  /** The addon's content. */
  data: Uint8Array;
  /** sha256 (hex) of `data`, computed at build time (./digest.ts): a stub does not load node:crypto. */
  digest: string;
  /** Package version (e.g. `0.1.0`), part of the cache directory name. */
  version: string;
  /** Environment to read K8PSH_CACHE_DIR, XDG_CACHE_HOME, HOME from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The runtime directory to load `name` from when it is there; default: the front's (../runtime/self.ts). */
  runtimeDir?: string | undefined;
  /** Loads a file; default: `process.dlopen` with RTLD_NOW. Injected by tests. */
  dlopen?: (file: string) => unknown;
}

/** The directory under which per-version cache directories live, or undefined when none can be named. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const { variable, suffix, named } of CACHE_CANDIDATES) {
    const value = named && variable !== null ? env[variable] : undefined;
    if (value && path.isAbsolute(value)) return path.join(value, suffix);
  }
  return undefined;
}

/** The cache directory for one addon content and version. */
export function cacheDirectory(root: string, version: string, digest: string): string {
  const safeVersion = version.replace(/[^A-Za-z0-9._+-]/g, '_') || 'unknown';
  return path.join(root, `${safeVersion}-${digest.slice(0, 16)}`);
}

export function defaultDlopen(file: string): unknown {
  const module = { exports: {} as unknown };
  process.dlopen(module, file, os.constants.dlopen.RTLD_NOW);
  return module.exports;
}

/** Materialise and load; throws only when neither the cache nor a temporary directory works. */
export function loadNative(options: LoadNativeOptions): LoadedNative {
  const digest = options.digest;
  const dlopen = options.dlopen ?? defaultDlopen;
  const inMemory = 'runtimeDir' in options ? undefined : memoryAddon(options.name);
  if (inMemory !== undefined)
    return { exports: dlopen(inMemory), path: inMemory, source: 'runtime', reused: false, sha256: digest };
  const runtime = 'runtimeDir' in options ? options.runtimeDir : runtimeDirectory();
  if (runtime !== undefined && fs.existsSync(path.join(runtime, options.name))) {
    const file = path.join(runtime, options.name);
    return { exports: dlopen(file), path: file, source: 'runtime', reused: false, sha256: digest };
  }
  let cacheError: string;
  const root = cacheRoot(options.env);
  if (root === undefined) {
    cacheError = 'no cache directory (K8PSH_CACHE_DIR, XDG_CACHE_HOME and HOME unset or relative)';
  } else {
    try {
      const dir = cacheDirectory(root, options.version, digest);
      const { file, reused } = materialiseInCache(dir, options.name, options.data);
      return { exports: dlopen(file), path: file, source: 'cache', reused, sha256: digest };
    } catch (error) {
      cacheError = describe(error);
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8psh-'));
  const file = path.join(dir, options.name);
  try {
    writeExclusive(file, options.data);
    const exports = dlopen(file);
    return { exports, path: file, source: 'temp', reused: false, sha256: digest, cacheError };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Put `data` at `dir/name` (or verify the file already there); returns its path. */
export function materialiseInCache(
  dir: string,
  name: string,
  data: Uint8Array,
): { file: string; reused: boolean } {
  makeDirectories(dir, 0o700);
  ensurePrivateDirectory(path.dirname(dir));
  ensurePrivateDirectory(dir);
  const file = path.join(dir, name);
  if (cachedFileMatches(file, data)) return { file, reused: true };
  // Created exclusively ('wx'): a name already taken fails instead of being written through.
  const temporary = path.join(dir, `.${name}.${process.pid}.${process.hrtime.bigint()}.tmp`);
  try {
    writeExclusive(temporary, data);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  if (!cachedFileMatches(file, data)) throw new Error(`${file}: content changed right after writing it`);
  return { file, reused: false };
}

/** True when `file` is a regular file of ours holding exactly `data`; false when absent or different. */
function cachedFileMatches(file: string, data: Uint8Array): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ELOOP')) return false;
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if (!stat.isFile() || (uid !== undefined && stat.uid !== uid)) return false;
    return (
      stat.size === data.length &&
      Buffer.from(data.buffer, data.byteOffset, data.length).equals(fs.readFileSync(fd))
    );
  } finally {
    fs.closeSync(fd);
  }
}

function writeExclusive(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'wx', 0o700);
  try {
    let offset = 0;
    while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

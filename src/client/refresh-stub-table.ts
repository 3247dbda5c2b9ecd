/**
 * Writes the compiled table the front asked for with K8PSH_STUB_CACHE (docs/native-stubs.md,
 * "Writing it"). Loaded only when that variable is set (a lazy bundle): the stub calls that need
 * no refresh never compile this. Nothing here may change the call: every failure is one debug
 * line, and a temporary file is never left behind.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute } from 'node:path';
import type { Config } from '../config/model.js';
import type { EnvRecording } from '../config/env-recorder.js';
import { clientDebug } from '../debug.js';
import { ensurePrivateDirectory, makeDirectories } from '../mkdirp.js';
import { fnv1a64Hex } from './fnv1a64.js';
import { encodeStubTable } from './stub-table.js';
import { Switch } from '../switches.js';

export { recordEnv } from '../config/env-recorder.js';

/** `native-<build id>-<FNV-1a 64 of the key, 16 hex digits>` */
const TABLE_NAME = /^native-([0-9A-Za-z_.]+)-([0-9a-f]{16})$/;

export interface LoadedForTable {
  /** The configuration path as loaded (configPath: K8PSH_CONFIG or k8psh.conf). */
  file: string;
  config: Config;
  content: Buffer | undefined;
  recording: EnvRecording;
  /** K8PSH_CONFIG in the caller's view. */
  k8pshConfig: string | undefined;
}

/** The key: the path the stub would load, relative ones prefixed with getcwd() and `/`, as in C. */
export function tableKey(file: string, cwd = process.cwd()): string {
  return isAbsolute(file) ? file : `${cwd}/${file}`;
}

/** The table's bytes for `target`, or the reason there is none. */
export function tableFor(target: string, loaded: LoadedForTable): Buffer | string {
  const match = TABLE_NAME.exec(basename(target));
  if (!match) return `${target} is not named native-<build id>-<hash>`;
  const [, buildId, hash] = match as unknown as [string, string, string];
  if (loaded.k8pshConfig === '') return `${Switch.CONFIG} is empty`;
  if (loaded.content === undefined) return 'the configuration bytes were not kept';
  const unusable = loaded.recording.unusable();
  if (unusable !== undefined) return unusable;
  const key = tableKey(loaded.file);
  // The front named the file after its own key: a different one means the two sides disagree.
  if (fnv1a64Hex(Buffer.from(key, 'utf8')) !== hash) return `the key ${key} does not hash to ${hash}`;
  return encodeStubTable({
    buildId,
    key,
    k8pshConfig: loaded.k8pshConfig,
    content: loaded.content,
    variables: loaded.recording.reads,
    config: loaded.config,
  });
}

/**
 * `<target>.<pid>.<random>.tmp` (O_EXCL, 0600) in the same directory, renamed over `target`:
 * a reader sees one complete version or none, and the last of concurrent writers wins.
 */
export function writeAtomically(target: string, data: Uint8Array): void {
  const temporary = `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, target);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Already gone: nothing to clean up.
    }
    throw error;
  }
}

/** Writes the table for this call's configuration to `target`; never throws. */
export function refreshStubTable(target: string, loaded: LoadedForTable): void {
  try {
    const table = tableFor(target, loaded);
    if (typeof table === 'string') clientDebug('Main', `no compiled table: ${table}`);
    else {
      // The front reads without writing: a candidate directory that is still missing is made here.
      makeDirectories(dirname(target), 0o700);
      ensurePrivateDirectory(dirname(target));
      writeAtomically(target, table);
      clientDebug('Main', `compiled table written to ${target} (${table.length} bytes)`);
    }
  } catch (error) {
    clientDebug('Main', `compiled table not written to ${target}: ${(error as Error).message}`);
  }
}

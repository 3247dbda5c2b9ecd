/**
 * TLS material from a directory laid out as a mounted kubernetes.io/tls Secret, and the watch that
 * follows its rotation: the kubelet writes a new timestamped directory and swaps the `..data`
 * symlink in one rename, so a change is seen as a whole, never half old and half new.
 */
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { SetupError } from '../errors.js';
import { TLS_FILES } from './constants.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Changes when any of the three does. */
  fingerprint: string;
}

/** All three files, or a SetupError naming the first one that cannot be read. */
export function loadTlsMaterial(directory: string): TlsMaterial {
  const read = (name: string): Buffer => {
    try {
      return readFileSync(join(directory, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new SetupError(`TLS material ${join(directory, name)} cannot be read (${code})`);
    }
  };
  const cert = read(TLS_FILES.certificate);
  const key = read(TLS_FILES.key);
  const ca = read(TLS_FILES.ca);
  const fingerprint = createHash('sha256').update(cert).update(key).update(ca).digest('hex');
  return { cert, key, ca, fingerprint };
}

/** How often the directory is read again when no inotify event came (a missed event, NFS, ...). */
const POLL_MS = 10000;
/** Events come in bursts (a new directory, a symlink, a rename): one reload after the last. */
const SETTLE_MS = 100;

/**
 * Calls `changed` with the new material each time it changes and loads whole; a directory caught
 * half-written keeps the current material until the next event or poll. Returns the stop function.
 */
export function watchTlsMaterial(
  directory: string,
  current: TlsMaterial,
  changed: (material: TlsMaterial) => void,
  failed: (message: string) => void,
): () => void {
  let fingerprint = current.fingerprint;
  let settle: NodeJS.Timeout | null = null;
  const check = (): void => {
    settle = null;
    let material: TlsMaterial;
    try {
      material = loadTlsMaterial(directory);
    } catch (error) {
      return failed((error as Error).message);
    }
    if (material.fingerprint === fingerprint) return;
    fingerprint = material.fingerprint;
    changed(material);
  };
  const soon = (): void => {
    if (settle) clearTimeout(settle);
    settle = setTimeout(check, SETTLE_MS);
    settle.unref();
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(directory, { persistent: false }, soon);
    watcher.on('error', () => {});
  } catch {
    // No inotify here: the poll alone follows the rotation.
  }
  const poll = setInterval(check, POLL_MS).unref();
  return () => {
    watcher?.close();
    clearInterval(poll);
    if (settle) clearTimeout(settle);
  };
}

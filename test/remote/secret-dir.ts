/**
 * A mounted kubernetes.io/tls Secret, laid out exactly as the kubelet's AtomicWriter
 * (pkg/volume/util/atomic_writer.go) writes it, so that a server watching its --tls directory
 * meets the real thing, rotations included:
 *
 *   ..2026_12_07_01_02_03.123456789/{tls.crt,tls.key,ca.crt}   the payload, in a fresh directory
 *   ..data -> ..2026_12_07_01_02_03.123456789                  swapped by one rename()
 *   tls.crt -> ..data/tls.crt   (and tls.key, ca.crt)          never change
 *
 * A reader that opens tls.crt sees either the old payload or the new one, never a mix: rotation
 * writes the new directory, points ..data_tmp at it, renames ..data_tmp over ..data, then removes
 * the old directory (a file still open in it stays readable).
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { TlsFiles } from './certs.js';

export interface SecretWrite {
  dir: string;
  /** The timestamped directory ..data now points at (a name inside dir). */
  current: string;
  /** The one it replaced, already removed (rotation only). */
  previous?: string;
}

const FILES = [
  ['tls.crt', 'crt', 0o644],
  ['tls.key', 'key', 0o600],
  ['ca.crt', 'ca', 0o644],
] as const;

/** The first write of the Secret into `target` (created if missing; must not hold one yet). */
export function writeSecretDir(target: string, files: TlsFiles): SecretWrite {
  mkdirSync(target, { recursive: true });
  if (dataLink(target) !== undefined) throw new Error(`${target} already holds a Secret: rotate it`);
  const current = payloadDir(target, files);
  swapData(target, current);
  for (const [name] of FILES) symlinkSync(join('..data', name), join(target, name));
  return { dir: target, current };
}

/** An update of the Secret, as the kubelet applies one after the API object changed. */
export function rotateSecretDir(target: string, files: TlsFiles): SecretWrite {
  const previous = dataLink(target);
  if (previous === undefined) throw new Error(`${target} holds no Secret yet: write it first`);
  const current = payloadDir(target, files);
  swapData(target, current);
  rmSync(join(target, previous), { recursive: true, force: true });
  return { dir: target, current, previous };
}

function dataLink(target: string): string | undefined {
  try {
    if (!lstatSync(join(target, '..data')).isSymbolicLink())
      throw new Error(`${target}/..data is no symlink`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return readlinkSync(join(target, '..data'));
}

/** os.MkdirTemp(target, "..<UTC time>.") then chmod 0755, as the kubelet makes it. */
function payloadDir(target: string, files: TlsFiles): string {
  const stamp = new Date().toISOString().replace(/-/g, '_').replace('T', '_').replace(/:/g, '_').slice(0, 19);
  for (;;) {
    const name = `..${stamp}.${randomBytes(4).readUInt32LE()}`;
    try {
      mkdirSync(join(target, name), { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    chmodSync(join(target, name), 0o755);
    for (const [file, field, mode] of FILES) {
      writeFileSync(join(target, name, file), files[field], { mode });
      chmodSync(join(target, name, file), mode); // the umask must not narrow it
    }
    return name;
  }
}

function swapData(target: string, current: string): void {
  const tmp = join(target, '..data_tmp');
  rmSync(tmp, { force: true }); // a ..data_tmp left by a crash, as the kubelet tolerates
  symlinkSync(current, tmp);
  renameSync(tmp, join(target, '..data'));
}

/** `--install FILE`: hard-link the running executable to FILE, or copy it (mode 0755) across filesystems. */
import { chmodSync, copyFileSync, linkSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { selfExecutable } from '../self.js';
import { SetupError } from '../errors.js';

export function install(target: string, source = selfExecutable()): 'linked' | 'copied' {
  // Build beside the target and rename over it: a running stub never sees a half-written file.
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    try {
      linkSync(source, temporary);
      renameSync(temporary, target);
      return 'linked';
    } catch (error) {
      if (!isLinkImpossible(error)) throw error;
    }
    copyFileSync(source, temporary);
    chmodSync(temporary, 0o755);
    renameSync(temporary, target);
    return 'copied';
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new SetupError(`cannot install to ${target}: ${(error as Error).message}`);
  }
}

function isLinkImpossible(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EACCES';
}

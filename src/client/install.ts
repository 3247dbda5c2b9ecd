/**
 * `--install FILE`. Started by the front executable, the front does it (native/front/install.c:
 * FILE is the front alone, its runtime directory beside it), and it is run for a command line the
 * front does not take whole (`k8psh -c x --install FILE`). Otherwise (a plain single executable, the
 * sources): hard-link the running executable to FILE, or copy it (mode 0755) across filesystems.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { callerEnv, frontExecutable } from '../runtime/caller-env.js';
import { selfExecutable } from '../runtime/self.js';
import { ClientError } from './fail.js';

export { selfExecutable };

export function install(target: string, source = selfExecutable()): 'linked' | 'copied' | 'installed' {
  if (frontExecutable !== undefined && source === frontExecutable) return installByFront(target);
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
    throw new ClientError(`cannot install to ${target}: ${(error as Error).message}`, 1);
  }
}

function isLinkImpossible(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EACCES';
}

function installByFront(target: string): 'installed' {
  const result = spawnSync(frontExecutable!, ['--install', target], {
    argv0: 'k8psh',
    env: callerEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  if (result.status === 0) return 'installed';
  const message = result.error?.message ?? result.stderr.trim().replace(/^k8psh: /, '');
  throw new ClientError(message || `cannot install to ${target}`, result.status || 1);
}

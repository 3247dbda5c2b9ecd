/**
 * Where "we" are. Started by the front executable (native/front), `process.execPath` is the glibc
 * loader inside the runtime directory, so the file to link stubs to, re-exec or install is the
 * front, whose real path it passes in K8PSH_SELF (./caller-env.ts); the runtime directory holding
 * the addons is the loader's. A plain single executable is its execPath; from the sources, the
 * script node runs.
 */
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { isSea } from 'node:sea';
import { frontExecutable } from './caller-env.js';

/** The file that is "us": the front, the single executable, or the script node runs. */
export function selfExecutable(): string {
  return frontExecutable ?? (isSea() ? process.execPath : realpathSync(process.argv[1]!));
}

/** The runtime directory (loader, libraries, node, addons) when the front started us. */
export function runtimeDirectory(): string | undefined {
  // From memory files (./memory-fds.ts) the loader is `/memfd:ld-linux-x86-64.so.2 (deleted)`.
  if (frontExecutable === undefined || process.execPath.startsWith('/memfd:')) return undefined;
  return dirname(process.execPath);
}

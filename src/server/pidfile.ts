/** The pidfile: created exclusively; a stale one (dead process) is replaced, a live one refused. */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { SetupError } from '../errors.js';

export function writePidfile(file: string, pid = process.pid): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST')
        throw new SetupError(`cannot create pidfile ${file}: ${code ?? String(error)}`, { cause: error });
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== pid && isAlive(owner))
        throw new SetupError(`pidfile ${file} belongs to running process ${owner}`, { cause: error });
      rmSync(file, { force: true });
      continue;
    }
    writeSync(fd, `${pid}\n`);
    closeSync(fd);
    return;
  }
  throw new SetupError(`cannot create pidfile ${file}: it keeps reappearing`);
}

export function removePidfile(file: string, pid = process.pid): void {
  try {
    // Only our own: another server may have replaced it.
    if (Number.parseInt(readFileSync(file, 'utf8'), 10) === pid) rmSync(file, { force: true });
  } catch {
    // Already gone.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

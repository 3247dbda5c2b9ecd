/** Raw mode for terminal sessions, restored on every way out of the process. */
import type { spawnSync as SpawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import type { TtyRequest } from '../protocol/tty.js';

/** Whether to ask for a pseudo-terminal: `-t`/`-T` (front end), else K8PSH_TTY, else both ends are terminals. */
export function wantTty(forced: boolean | undefined, env = process.env): boolean {
  if (forced !== undefined) return forced;
  const setting = env.K8PSH_TTY;
  if (setting === '1' || setting === 'true') return true;
  if (setting === '0' || setting === 'false') return false;
  // isatty, not process.stdin.isTTY: creating process.stdin costs a stub call, and fd 0 may be read
  // by a socket of our own (src/client/remote.ts).
  return isatty(0) && isatty(1);
}

export function ttyRequest(env = process.env): TtyRequest {
  const out = process.stdout;
  return {
    rows: out.isTTY ? out.rows : 24,
    cols: out.isTTY ? out.columns : 80,
    term: env.TERM ?? 'xterm',
  };
}

export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  // libuv's raw mode keeps output processing (ONLCR): the remote pty already turns \n into \r\n, so
  // turn it off as ssh does, or every line ends \r\r\n. setRawMode(false) restores the saved termios.
  // Loaded here: child_process is not worth loading on every stub call for the terminal case.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as {
    spawnSync: typeof SpawnSync;
  };
  spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    try {
      stdin.setRawMode(false);
    } catch {
      // The terminal is gone (hang-up): nothing left to restore.
    }
  };
  process.on('exit', restore);
  return restore;
}

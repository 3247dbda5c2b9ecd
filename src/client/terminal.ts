/** The pseudo-terminal choice, and raw mode for pseudo-terminal sessions (restored on every way out). */
import { syscalls } from '../native/syscalls.js';
import type { TtyRequest } from '../protocol/tty.js';
import { TERM_VARIABLE } from '../shared-rules.js';
import { Switch, ttySwitch } from '../switches.js';

/**
 * The pseudo-terminal choice (docs/terminals.md): `-t`/`-T` (front end), else K8PSH_TTY, else
 * undefined: no pseudo-terminal where the terminals can be passed, one on the relayed path when
 * fd 0, 1 and 2 are all terminals.
 */
export function ttyChoice(forced: boolean | undefined, env = process.env): boolean | undefined {
  if (forced !== undefined) return forced;
  return ttySwitch(env[Switch.TTY]);
}

/**
 * The relayed path's default: a pseudo-terminal only for a fully interactive call. A redirected
 * stream keeps its meaning (`2>err.txt` is not merged into a terminal's output).
 */
export function relayWantsPty(): boolean {
  // isatty, not process.stdin.isTTY: creating process.stdin costs a stub call, and fd 0 may be read
  // by a socket of our own (src/client/remote.ts).
  return isTerminal(0) && isTerminal(1) && isTerminal(2);
}

/** The addon's isatty: node:tty would load net and the streams into every stub call. */
export function isTerminal(fd: number): boolean {
  const native = syscalls();
  return native ? native.isatty(fd) : process.getBuiltinModule('node:tty').isatty(fd);
}

export function ttyRequest(env = process.env): TtyRequest {
  const out = process.stdout;
  return {
    rows: out.isTTY ? out.rows : 24,
    cols: out.isTTY ? out.columns : 80,
    term: env[TERM_VARIABLE] ?? 'xterm',
  };
}

export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  stdin.setRawMode(true);
  // libuv's raw mode keeps output processing (ONLCR): the remote pty already turns \n into \r\n, so
  // turn it off as ssh does, or every line ends \r\r\n. setRawMode(false) restores the saved termios.
  rawOutput();
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

/** Output processing off on fd 0 (where stty works): the addon, not a `stty` that may be a stub. */
function rawOutput(): void {
  const native = syscalls();
  try {
    if (native) return native.rawOutput(0);
  } catch {
    return; // Not a terminal after all: nothing to turn off.
  }
  // No addon: stty from the system directories only, never a stub of ours earlier on PATH.
  // getBuiltinModule, not createRequire: node:module drags the ESM loader into every stub call.
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  spawnSync('stty', ['-opost'], {
    stdio: ['inherit', 'ignore', 'ignore'],
    env: { ...process.env, PATH: '/usr/bin:/bin' },
  });
}

/**
 * The modes of every terminal among fd 0-2, saved before a remote command gets the terminal and
 * put back on every way out of the client (docs/terminals.md): a passed terminal is shared with
 * the remote command as with a local child, and a command killed in raw mode (vi, a password
 * prompt with echo off) must not leave the user's terminal unusable. Only a terminal whose modes
 * changed is written to, so a client that changed nothing never touches its terminal.
 */
import { syscalls } from '../native/syscalls.js';
import { PASSED_FD_COUNT } from '../protocol/constants.js';

const saved: { fd: number; modes: Buffer }[] = [];

/** Saves the modes of the terminals among fd 0-2 (once) and restores them when the process exits. */
export function saveTerminalModes(): void {
  const native = syscalls();
  if (!native || saved.length > 0) return;
  for (let fd = 0; fd < PASSED_FD_COUNT; fd++) {
    if (!native.isatty(fd)) continue;
    try {
      saved.push({ fd, modes: native.getModes(fd) });
    } catch {
      // Not readable after all (hung up): nothing to restore.
    }
  }
  if (saved.length > 0) process.on('exit', restoreTerminalModes);
}

/** Puts back what saveTerminalModes() found; idempotent, and silent when a terminal is gone. */
export function restoreTerminalModes(): void {
  const native = syscalls();
  if (!native) return;
  for (const { fd, modes } of saved) {
    try {
      if (!native.getModes(fd).equals(modes)) native.setModes(fd, modes);
    } catch {
      // The terminal hung up or was closed: nothing left to restore.
    }
  }
}

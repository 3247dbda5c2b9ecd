/**
 * K8PSH_DEBUG=Main,Process,Configuration (or `all`) turns on debug output per
 * component, as in the original. Cheap when off: the stub path pays one env
 * lookup; pino is loaded only by the server (src/log.ts).
 */
import { writeSync } from 'node:fs';
import { Switch } from './switches.js';

const spec = (process.env[Switch.DEBUG] ?? '').trim().toLowerCase();
const all = spec === 'all' || spec === '*' || spec === '1';
const enabled = new Set(
  spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

export function debugEnabled(component: string): boolean {
  return all || enabled.has(component.toLowerCase());
}

export const anyDebug = spec !== '';

/**
 * Client-side debug line on stderr; a stub's stderr belongs to the remote command, so only when asked.
 * Written directly, not through process.stderr: creating that stream makes fd 2 non-blocking, which
 * a remote command writing to the same (passed) descriptor would see as EAGAIN.
 */
export function clientDebug(component: string, message: string): void {
  if (debugEnabled(component)) writeStderr(`k8psh[${process.pid}] ${component}: ${message}\n`);
}

export function writeStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // Nowhere to report it.
  }
}

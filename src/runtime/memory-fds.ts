/**
 * Started by the front from memory files (native/front/memory.h: no runtime directory, nowhere to
 * unpack one), the runtime's files are descriptors inherited from the front, listed in K8PSH_FDS
 * (`node=3,libc.so.6=4,pty.node=9,...`). They are closed at once, so that no command inherits them;
 * the addons are first reopened close-on-exec, to be loaded later by their /proc/self/fd name.
 * Idempotent across the copies of this module in lazy bundles: the variable is consumed, the map
 * lives on globalThis.
 */
import { closeSync, openSync } from 'node:fs';

import { FDS_VARIABLE as VARIABLE } from '../shared-rules.js';
const KEY = Symbol.for('k8psh.memory-addons');
const registry = globalThis as { [KEY]?: Map<string, string> };

function take(): Map<string, string> {
  const addons = new Map<string, string>();
  const list = process.env[VARIABLE];
  delete process.env[VARIABLE];
  for (const item of (list ?? '').split(',')) {
    const match = /^([^=]+)=(\d+)$/.exec(item);
    if (!match) continue;
    const [, name, fd] = match as unknown as [string, string, string];
    try {
      if (name.endsWith('.node')) addons.set(name, `/proc/self/fd/${openSync(`/proc/self/fd/${fd}`, 'r')}`);
      closeSync(Number(fd));
    } catch {
      // Not ours after all (closed already): nothing to keep.
    }
  }
  return addons;
}

registry[KEY] ??= take();

/** The /proc/self/fd path of an addon the front put in memory, or undefined. */
export function memoryAddon(name: string): string | undefined {
  return registry[KEY]?.get(name);
}

/**
 * K8PSH_STUB_CACHE: where the front asks this call to write the compiled table of its
 * configuration (docs/native-stubs.md). It is ours, not the caller's: taken out of process.env
 * before anything builds the caller's view (./caller-env.ts), so it is never forwarded to a
 * command nor substituted into a configuration. Idempotent across the copies of this module in
 * lazy bundles: the variable is consumed, the value lives on globalThis.
 */
import { STUB_CACHE_VARIABLE as VARIABLE } from '../shared-rules.js';

const KEY = Symbol.for('k8psh.stub-cache-target');
const registry = globalThis as { [KEY]?: { path: string | undefined } };

function take(): { path: string | undefined } {
  const path = process.env[VARIABLE];
  delete process.env[VARIABLE];
  return { path: path || undefined };
}

registry[KEY] ??= take();

/** The table file this call should write, or undefined (nothing to write: no cost). */
export function stubCacheTarget(): string | undefined {
  return registry[KEY]?.path;
}

/**
 * node-pty, loaded on demand.
 *
 * From the sources (tests, development) `loadPty()` is just `import('node-pty')`.
 *
 * In the single executable (`scripts/build/bundle.mjs` defines `__K8PSH_BUNDLED__`), node-pty's JavaScript is
 * bundled and its `loadNativeModule` is replaced by a hook (see the build script's node-pty plugin)
 * that returns the addon this module prepared: `pty.node` travels as the SEA asset `pty.node`, is
 * written to a private, hash-verified cache directory (./cache.ts) and loaded with `process.dlopen`.
 * A bundle run by a plain `node` (no SEA) loads node-pty's own `build/Release/pty.node` instead.
 *
 * Nothing here runs at start-up: node-pty, the asset and the cache are touched only by `loadPty()`.
 */
import type * as NodePty from 'node-pty';
import { NATIVE_HOOK_KEY, PTY_ASSET } from '../bundle.js';

declare const __K8PSH_BUNDLED__: boolean | undefined;
declare const __K8PSH_NATIVE_DIGESTS__: Record<string, string>;

/** Where node-pty's addon came from. */
export interface PtyNativeInfo {
  /** `node_modules`: node-pty's own build (sources or a plain bundle); `cache`/`temp`: see ./cache.ts. */
  source: 'node_modules' | 'runtime' | 'cache' | 'temp';
  /** The addon file, when known (a `temp` file is already removed). */
  path?: string;
  /** A cached file was reused after its hash was verified. */
  reused?: boolean;
  /** Why the cache directory could not be used (source `temp`). */
  cacheError?: string;
}

export type NodePtyModule = typeof NodePty;

/** The symbol under which the bundled node-pty finds its native module (see scripts/build/patches.mjs). */
export const NATIVE_HOOK = Symbol.for(NATIVE_HOOK_KEY);

let loading: Promise<NodePtyModule> | undefined;
let info: PtyNativeInfo | undefined;

/** node-pty, loaded once (later calls return the same promise). */
export function loadPty(): Promise<NodePtyModule> {
  loading ??= load();
  return loading;
}

/** Where the addon was loaded from; undefined before `loadPty()` resolved. */
export function ptyNativeInfo(): PtyNativeInfo | undefined {
  return info;
}

async function load(): Promise<NodePtyModule> {
  if (typeof __K8PSH_BUNDLED__ !== 'undefined' && __K8PSH_BUNDLED__) {
    const native = await prepareBundledNative();
    (globalThis as Record<symbol, unknown>)[NATIVE_HOOK] = (name: string) => {
      if (name !== 'pty') throw new Error(`node-pty: native module ${name}.node is not part of k8psh`);
      return native;
    };
  }
  const pty = await import('node-pty');
  info ??= { source: 'node_modules' };
  return pty;
}

/** The addon's exports and directory, as node-pty's `loadNativeModule` returns them. */
async function prepareBundledNative(): Promise<{ dir: string; module: unknown }> {
  const sea = await import('node:sea');
  const { packageVersion } = await import('../version.js');
  if (!sea.isSea()) {
    // A bundle run by node itself, inside the source tree: use node-pty's own build.
    const { createRequire } = await import('node:module');
    const path = await import('node:path');
    const file = createRequire(import.meta.url).resolve('node-pty/build/Release/pty.node');
    const { defaultDlopen } = await import('./cache.js');
    const module = defaultDlopen(file);
    info = { source: 'node_modules', path: file };
    return { dir: path.dirname(file), module };
  }
  const { loadNative } = await import('./cache.js');
  const path = await import('node:path');
  // The raw asset is not copied: it is only read (hashed, written out), never written to.
  const raw = sea.getRawAsset(PTY_ASSET);
  const loaded = loadNative({
    name: PTY_ASSET,
    data: typeof raw === 'string' ? Buffer.from(raw, 'latin1') : new Uint8Array(raw),
    digest: __K8PSH_NATIVE_DIGESTS__[PTY_ASSET] ?? missingDigest(),
    version: packageVersion(),
  });
  info = { source: loaded.source, path: loaded.path, reused: loaded.reused };
  if (loaded.cacheError !== undefined) info.cacheError = loaded.cacheError;
  return { dir: path.dirname(loaded.path), module: loaded.exports };
}

function missingDigest(): never {
  throw new Error(`no digest for ${PTY_ASSET} in this build`);
}

/**
 * Hidden diagnostic (`k8psh --selftest-pty`): run `/bin/echo pty-ok` in a pseudo-terminal and
 * resolve with its output, then a line telling where node-pty's addon came from, e.g.
 * `pty-ok\npty.node: /root/.cache/k8psh/0.1.0-0123456789abcdef/pty.node (cache, reused)`.
 * Rejects when the spawn fails, the command exits non-zero or nothing arrives within 10 s.
 */
export async function ptySelfTest(timeoutMs = 10_000): Promise<string> {
  const pty = await loadPty();
  const output = await new Promise<string>((resolve, reject) => {
    let text = '';
    const term = pty.spawn('/bin/echo', ['pty-ok'], {
      name: 'dumb',
      cols: 80,
      rows: 24,
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', TERM: 'dumb' },
    });
    const timer = setTimeout(() => {
      term.kill();
      reject(
        new Error(`pty self-test: no exit within ${timeoutMs} ms (output so far: ${JSON.stringify(text)})`),
      );
    }, timeoutMs);
    term.onData((data) => {
      text += data;
    });
    term.onExit(({ exitCode, signal }) => {
      clearTimeout(timer);
      if (exitCode === 0 && !signal) resolve(text);
      else reject(new Error(`pty self-test: /bin/echo exited with ${exitCode} (signal ${signal ?? 0})`));
    });
  });
  return `${output.replace(/\r\n/g, '\n').trim()}\npty.node: ${describeInfo(ptyNativeInfo())}`;
}

function describeInfo(native: PtyNativeInfo | undefined): string {
  if (native === undefined) return 'unknown';
  const details: string[] = [native.source];
  if (native.reused) details.push('reused');
  if (native.cacheError !== undefined) details.push(`cache unusable: ${native.cacheError}`);
  return `${native.path ?? 'node-pty'} (${details.join(', ')})`;
}

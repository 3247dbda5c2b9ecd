/**
 * The names that tie the single executable's build (scripts/build.mjs) to the code that runs in it:
 * SEA assets, hooks and the lazy bundles' calling convention. Both sides import this module (the
 * build transpiles it with esbuild), so a name can never be spelt differently on one side. It must
 * import nothing: the build loads it on its own.
 */

/** node-pty's addon, as a SEA asset (src/native/pty.ts). */
export const PTY_ASSET = 'pty.node';
/** Our addon native/syscalls, as a SEA asset (src/native/syscalls.ts). */
export const SYSCALLS_ASSET = 'syscalls.node';
/** `Symbol.for` key under which the bundled node-pty finds its native module (src/native/pty.ts). */
export const NATIVE_HOOK_KEY = 'k8psh.node-pty.native';

/** `Symbol.for` key of the process-wide map of lazy bundles already evaluated (src/lazy-loader.ts). */
export const LAZY_BUNDLES_KEY = 'k8psh.lazy-bundles';
/** The SEA asset holding a lazy bundle's code (`cjs`) or its V8 code cache (`cache`). */
export const lazyAsset = (name: string, kind: 'cjs' | 'cache'): string => `k8psh-${name}.${kind}`;
/**
 * The parameters a lazy bundle is compiled with (a CommonJS wrapper plus the shared modules): the
 * code cache made at build time is only accepted for the very same list.
 */
export const LAZY_PARAMS = [
  'exports',
  'require',
  'module',
  '__filename',
  '__dirname',
  '__k8psh_shared',
] as const;
/**
 * Modules whose identity matters across bundles (classes tested with instanceof, e.g. by
 * src/client/report.ts): a lazy bundle does not carry its own copy but uses the main bundle's.
 */
export const SHARED_MODULES = ['src/errors.ts', 'src/config/errors.ts'] as const;
export type SharedModule = (typeof SHARED_MODULES)[number];

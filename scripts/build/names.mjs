/**
 * The names the executable's code shares with this build (asset names, the native hook, the lazy
 * bundles' parameters and shared modules): src/bundle.ts, transpiled and imported here, so that
 * neither side can spell one differently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { root } from './root.mjs';

/** Runs a TypeScript module that imports nothing. */
async function importTypeScript(file) {
  const { code } = await esbuild.transform(fs.readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm' });
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

export const { PTY_ASSET, SYSCALLS_ASSET, NATIVE_HOOK_KEY, LAZY_PARAMS, SHARED_MODULES, lazyAsset } =
  await importTypeScript(path.join(root, 'src/bundle.ts'));

/**
 * Loads a lazy bundle (scripts/build/lazy-bundles.mjs: code a stub call never runs, such as the server or the
 * front end) by name, once per process. Its code is the SEA asset, else the file beside the main
 * bundle; it is compiled with its code cache and handed the main bundle's shared modules.
 *
 * Only bundles use this module, as CommonJS: `require`, `__filename` and `__dirname` are the
 * bundle's own. Every bundle with lazy imports carries a copy, hence the process-wide map.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { compileFunction } from 'node:vm';
import { LAZY_BUNDLES_KEY, LAZY_PARAMS, lazyAsset, type SharedModule } from './bundle.js';
import * as configErrors from './config/errors.js';
import * as errors from './errors.js';

type Exports = Record<string, unknown>;

const shared: Record<SharedModule, unknown> = {
  'src/errors.ts': errors,
  'src/config/errors.ts': configErrors,
};
const loaded = ((globalThis as Record<symbol, Map<string, Exports> | undefined>)[
  Symbol.for(LAZY_BUNDLES_KEY)
] ??= new Map<string, Exports>());

/** `file` is the bundle's file name beside the main one: the SEA's stack traces name it too. */
export function loadLazyBundle(name: string, file: string): Exports {
  let exported = loaded.get(name);
  if (exported) return exported;
  let filename: string, code: string, cachedData: Buffer | undefined;
  if (isSea()) {
    filename = file;
    code = getAsset(lazyAsset(name, 'cjs'), 'utf8');
    try {
      cachedData = Buffer.from(getAsset(lazyAsset(name, 'cache')));
    } catch {
      cachedData = undefined; // built with --no-code-cache
    }
  } else {
    filename = join(__dirname, file);
    code = readFileSync(filename, 'utf8');
  }
  const compiled = compileFunction(code, [...LAZY_PARAMS], { filename, cachedData });
  const lazyModule = { exports: {} as Exports };
  compiled.call(lazyModule.exports, lazyModule.exports, require, lazyModule, __filename, __dirname, shared);
  exported = lazyModule.exports;
  loaded.set(name, exported);
  return exported;
}

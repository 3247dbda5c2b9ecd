/**
 * The bundling stage: esbuild makes the entry and every dependency one CommonJS file (Node SEA
 * mains must be CommonJS), plus one file per lazy bundle it asks for (lazy-bundles.mjs), in
 * OUT/.build/ with esbuild's metafiles beside them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { lazyPlugin, lazySource, sharedModulesPlugin } from './lazy-bundles.mjs';
import { makeLazyCache } from './lazy-cache.mjs';
import { kib, show } from './log.mjs';
import { lazyAsset } from './names.mjs';
import { lazySegmenterPlugin, nodePtyPlugin } from './patches.mjs';
import { root } from './root.mjs';

/**
 * One bundle into outfile, from entry or from stdin. `import.meta.url` is defined from `__filename`
 * (yargs 18 is ESM-only and calls createRequire), the version, the "bundled" flag and the addons'
 * digests are defined, node-pty's native loader is replaced by a hook (src/native/pty.ts fills it).
 */
async function bundle({ version, digests }, { entry, stdin, outfile, plugins = [] }) {
  const result = await esbuild.build({
    ...(stdin ? { stdin } : { entryPoints: [entry] }),
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    // Syntax only: identifiers and lines stay, so a stack trace maps onto OUT/.build/NAME.cjs by eye.
    minifySyntax: true,
    // A real import() is unavailable in a SEA main script (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), also
    // for node: built-ins left external: turn every import() into a lazy require().
    supported: { 'dynamic-import': false },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: {
      'import.meta.url': '__k8psh_import_meta_url',
      __K8PSH_VERSION__: JSON.stringify(version),
      __K8PSH_BUNDLED__: 'true',
      __K8PSH_NATIVE_DIGESTS__: JSON.stringify(digests),
    },
    banner: {
      js: 'var __k8psh_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
    },
    plugins: [...plugins, nodePtyPlugin, lazySegmenterPlugin],
  });
  return { outfile, metafile: result.metafile };
}

/**
 * The main bundle, then every lazy bundle it (or another lazy bundle) asks for, each with its code
 * cache made by the embedded node (runtime) unless options say not: { outfile: the main bundle,
 * assets: the SEA assets to carry }. A `bundle …` line each.
 */
export async function bundleAll({ options, runtime, buildDir, version, digests, log, elapsed }) {
  const defines = { version, digests };
  const assets = {};
  const pending = new Set();
  const done = new Set();
  const main = await bundle(defines, {
    entry: options.entry,
    outfile: path.join(buildDir, `${options.name}.cjs`),
    plugins: [lazyPlugin(options.name, pending)],
  });
  fs.writeFileSync(path.join(buildDir, 'meta.json'), JSON.stringify(main.metafile));
  log(`bundle   ${show(main.outfile)}: ${kib(fs.statSync(main.outfile).size)} (${elapsed()})`);
  for (const stale of fs.readdirSync(buildDir))
    if (stale.startsWith(`${options.name}-`) && /\.(cjs|cache)$/.test(stale))
      fs.rmSync(path.join(buildDir, stale));
  while (pending.size > done.size) {
    const name = [...pending].find((n) => !done.has(n));
    done.add(name);
    const { importer, specifier } = lazySource(name);
    const outfile = path.join(buildDir, `${options.name}-${name}.cjs`);
    // `require()` of an ES module is bundled as a lazy init: evaluated when the face is loaded.
    const lazy = await bundle(defines, {
      stdin: {
        contents: `module.exports = require(${JSON.stringify(specifier)});\n`,
        resolveDir: path.dirname(path.join(root, importer)),
        sourcefile: `lazy-${name}.ts`,
        loader: 'ts',
      },
      outfile,
      plugins: [sharedModulesPlugin, lazyPlugin(options.name, pending, name)],
    });
    fs.writeFileSync(path.join(buildDir, `meta-${name}.json`), JSON.stringify(lazy.metafile));
    log(`bundle   ${show(outfile)}: ${kib(fs.statSync(outfile).size)} (${elapsed()})`);
    assets[lazyAsset(name, 'cjs')] = outfile;
    if (options.codeCache && !options.bundleOnly) {
      const cacheFile = path.join(buildDir, `${options.name}-${name}.cache`);
      makeLazyCache(runtime, outfile, cacheFile);
      assets[lazyAsset(name, 'cache')] = cacheFile;
    }
  }
  return { outfile: main.outfile, assets };
}

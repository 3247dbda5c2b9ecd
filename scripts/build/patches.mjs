/**
 * esbuild plugins that rewrite a dependency's source as it is bundled, where it would not work in a
 * single executable or costs every call something it does not need. Each checks the shape it
 * rewrites: node-pty's must match (the build fails otherwise), string-width's is left as it is.
 */
import * as fs from 'node:fs';
import { NATIVE_HOOK_KEY } from './names.mjs';

/**
 * node-pty:
 * - lib/utils.js: `loadNativeModule(name)` asks the hook that src/native/pty.ts installs instead of
 *   `require`-ing `../build/Release/pty.node` relative to a node_modules that does not exist in the binary;
 * - lib/windowsTerminal.js: never used on Linux/macOS (index.js picks it on win32 only); dropped.
 */
export const nodePtyPlugin = {
  name: 'k8psh-node-pty',
  setup(build) {
    build.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]utils\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const pattern =
        /function loadNativeModule\(name\) \{[\s\S]*?\n\}\nexports\.loadNativeModule = loadNativeModule;/;
      if (!pattern.test(source)) {
        throw new Error(
          `${args.path}: loadNativeModule not found; node-pty changed, update scripts/build/patches.mjs`,
        );
      }
      const replacement = [
        'function loadNativeModule(name) {',
        `    var hook = globalThis[Symbol.for(${JSON.stringify(NATIVE_HOOK_KEY)})];`,
        "    if (typeof hook !== 'function') {",
        "        throw new Error('node-pty: native module ' + name + '.node is not prepared (use loadPty())');",
        '    }',
        '    return hook(name);',
        '}',
        'exports.loadNativeModule = loadNativeModule;',
      ].join('\n');
      return { contents: source.replace(pattern, replacement), loader: 'js' };
    });
    build.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]windowsTerminal\.js$/ }, () => ({
      contents: "throw new Error('node-pty: Windows is not supported by k8psh');",
      loader: 'js',
    }));
  },
};

/**
 * string-width (yargs → cliui, wrap-ansi): its module creates an Intl.Segmenter when it is
 * evaluated, that is whenever yargs is loaded (every server start, every front-end call), though
 * only help text ever measures a string. That costs ~20 ms and ~4.5 MB of RSS (ICU data): create it
 * on first use instead. Nothing else changes.
 */
export const lazySegmenterPlugin = {
  name: 'k8psh-lazy-segmenter',
  setup(build) {
    build.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const eager = 'const segmenter = new Intl.Segmenter();';
      if (!source.includes(eager)) return undefined; // another version: bundled as it is
      const lazy =
        'let eagerSegmenter;\n' +
        'const segmenter = { segment: (text) => (eagerSegmenter ??= new Intl.Segmenter()).segment(text) };';
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

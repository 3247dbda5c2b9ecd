/**
 * Code a stub call never runs is bundled apart: the server, the front end, the TOML parser, the
 * writer of the native stubs' compiled table, the server's metrics. Each is its own bundle, carried as a SEA asset with
 * its V8 code cache, and compiled only when its `import()` runs. The main script every stub call
 * compiles is then a twentieth of the whole (about 10 ms less per stub call here:
 * docs/benchmarks.md). src/lazy-loader.ts loads them; src/bundle.ts holds the names both sides use.
 */
import * as path from 'node:path';
import { SHARED_MODULES } from './names.mjs';
import { root } from './root.mjs';

/** The `import()`s that become lazy bundles: which file's, of what, and the bundle's name. */
const LAZY_MODULES = [
  { importer: 'src/main.ts', specifier: './server/main.js', name: 'server' },
  { importer: 'src/main.ts', specifier: './client/frontend.js', name: 'frontend' },
  { importer: 'src/config/load.ts', specifier: './toml.js', name: 'toml' },
  { importer: 'src/client/run-command.ts', specifier: './refresh-stub-table.js', name: 'stub-table' },
  // prom-client, for --metrics only: no weight on a server without it.
  { importer: 'src/server/server.ts', specifier: './metrics.js', name: 'metrics' },
];
/**
 * Packages that several lazy bundles import (statically): bundled once, as a lazy bundle of their
 * own that those bundles load when they are evaluated. yargs parses both the server's and the front
 * end's command line (~280 KiB with what it pulls in).
 */
const SHARED_PACKAGES = [{ specifier: 'yargs', name: 'yargs' }]; // their default export only
const LAZY_LOADER = path.join(root, 'src/lazy-loader.ts');

/** Where lazy bundle `name` starts: { importer (a file of the repository), specifier }. */
export function lazySource(name) {
  const { importer = 'package.json', specifier } =
    LAZY_MODULES.find((m) => m.name === name) ?? SHARED_PACKAGES.find((m) => m.name === name);
  return { importer, specifier };
}

/**
 * esbuild plugin: an `import()` listed in LAZY_MODULES (and, in a lazy bundle other than its own, an
 * import of a SHARED_PACKAGES package) becomes a small module that loads that lazy bundle with
 * src/lazy-loader.ts (the SEA asset `k8psh-NAME.cjs`; outside a SEA the file `EXECUTABLE-NAME.cjs`
 * beside the main bundle) and takes its exports. The names asked for are added to `used`.
 */
export function lazyPlugin(executable, used, self = undefined) {
  const lazyFile = (name) => `${executable}-${name}.cjs`;
  return {
    name: 'k8psh-lazy',
    setup(build) {
      if (self !== undefined)
        for (const { specifier, name } of SHARED_PACKAGES) {
          if (name === self) continue;
          build.onResolve({ filter: new RegExp(`^${specifier}$`) }, () => {
            used.add(name);
            return { path: name, namespace: 'k8psh-lazy', pluginData: { defaultOnly: true } };
          });
        }
      for (const { importer, specifier, name } of LAZY_MODULES) {
        const importerPath = path.join(root, importer);
        const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
        build.onResolve({ filter }, (args) => {
          if (args.importer !== importerPath || args.kind !== 'dynamic-import') return undefined;
          used.add(name);
          return { path: name, namespace: 'k8psh-lazy' };
        });
      }
      build.onLoad({ filter: /.*/, namespace: 'k8psh-lazy' }, (args) => {
        const load = `require(${JSON.stringify(LAZY_LOADER)}).loadLazyBundle(${JSON.stringify(args.path)}, ${JSON.stringify(lazyFile(args.path))})`;
        // A package's default export, as an ES module: the importer (of a "type": "module" package)
        // would otherwise take the whole CommonJS exports object for it.
        const contents = args.pluginData?.defaultOnly
          ? `export default ${load}.default;\n`
          : `module.exports = ${load};\n`;
        return { contents, loader: 'js', resolveDir: root };
      });
    },
  };
}

/** esbuild plugin for a lazy bundle: an import of a SHARED_MODULES file is the main bundle's module. */
export const sharedModulesPlugin = {
  name: 'k8psh-shared-modules',
  setup(build) {
    const shared = new Map(SHARED_MODULES.map((file) => [path.join(root, file), file]));
    build.onResolve({ filter: /\.[jt]s$/ }, (args) => {
      // Relative imports of the sources (the loader's among them).
      if (!(args.importer && args.path.startsWith('.'))) return undefined;
      const file = path.resolve(path.dirname(args.importer), args.path).replace(/\.js$/, '.ts');
      const key = shared.get(file);
      return key === undefined ? undefined : { path: key, namespace: 'k8psh-shared' };
    });
    build.onLoad({ filter: /.*/, namespace: 'k8psh-shared' }, (args) => ({
      contents: `module.exports = __k8psh_shared[${JSON.stringify(args.path)}];\n`,
      loader: 'js',
    }));
  },
};

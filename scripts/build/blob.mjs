/**
 * The SEA blob: the embedded node (`--experimental-sea-config`) turns the main bundle and the assets
 * (the addons, the lazy bundles and their caches) into OUT/.build/sea-prep.blob, later injected into
 * a copy of that node (runtime.mjs).
 */
import console from 'node:console';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runEmbedded } from './embedded-node.mjs';

/** The blob's file; the embedded node's own words on stdout when verbose. */
export function makeBlob({ runtime, buildDir, mainFile, assets, codeCache, verbose }) {
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
  const result = runEmbedded(runtime, ['--experimental-sea-config', path.basename(configFile)], {
    cwd: buildDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.status !== 0) throw new Error(`node --experimental-sea-config failed:\n${output}`);
  if (verbose && output) console.log(`  ${output}`);
  return blob;
}

/**
 * The V8 code cache of a lazy bundle, carried beside it as a SEA asset: src/lazy-loader.ts compiles
 * the bundle with it, and V8 accepts it only from the same Node, the same flags (none) and the same
 * parameter list (LAZY_PARAMS), so the embedded node makes it with exactly those.
 */
import { runEmbedded } from './embedded-node.mjs';
import { LAZY_PARAMS } from './names.mjs';

export function makeLazyCache(runtime, file, cacheFile) {
  const script = `
    const fs = require('node:fs');
    const code = fs.readFileSync(process.argv[1], 'utf8');
    const params = ${JSON.stringify([...LAZY_PARAMS])};
    const fn = require('node:vm').compileFunction(code, params, { filename: process.argv[1], produceCachedData: true });
    if (!fn.cachedDataProduced) process.exit(3);
    fs.writeFileSync(process.argv[2], fn.cachedData);`;
  const result = runEmbedded(runtime, ['-e', script, file, cacheFile]);
  if (result.status !== 0) throw new Error(`the code cache of ${file} failed: ${result.stderr}`);
}

/**
 * TypeScript modules of src/ for the plain .mjs scripts (node runs them without a TypeScript
 * loader): esbuild bundles them into one ES module held in memory, imported from a data: URL.
 * Sync: a one-shot esbuild process, not the service that would stay beside a long-running server.
 */
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** The exports of every module named (paths under src/, without .ts), as one namespace. */
export function importTypeScript(modules) {
  const result = esbuild.buildSync({
    stdin: {
      contents: modules.map((module) => `export * from './${module}.js';`).join('\n'),
      resolveDir: SRC,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString('base64')}`);
}

#!/usr/bin/env node
/**
 * `npm test`'s tap run, with the failing tests listed at the very end. At a terminal tap's own
 * reporter already ends with them: tap runs as is. Elsewhere (CI, a pipe, a file) tap prints raw TAP,
 * passed through here byte for byte, and the names of the failures follow its closing line.
 * tap's exit status is kept.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tapFailures } from './lib/tap-failures.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tap = join(root, 'node_modules/.bin/tap');
const atTerminal = process.stdout.isTTY === true;

const child = spawn(tap, process.argv.slice(2), {
  stdio: ['inherit', atTerminal ? 'inherit' : 'pipe', 'inherit'],
});
const chunks = [];
child.stdout?.on('data', (chunk) => {
  process.stdout.write(chunk);
  chunks.push(chunk);
});
// Ctrl-C reaches tap too (same process group): wait for it to finish.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));

child.on('close', (code, signal) => {
  if (!atTerminal) {
    // By file, whichever finished first (tap runs them in parallel); in order within a file.
    const failures = sortByFile(tapFailures(Buffer.concat(chunks).toString('utf8')));
    if (failures.length > 0)
      process.stdout.write(
        `\n# ${failures.length} failed (details above):\n${failures.map((name) => `#   ${name}\n`).join('')}`,
      );
  }
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exitCode = code ?? 1;
});

/** A stable sort on the file each name starts with (`file > test > ...` or `file (exitCode: N)`). */
function sortByFile(names) {
  const file = (name) => name.split(/ > | \(/, 1)[0];
  return names
    .map((name, index) => ({ name, index }))
    .sort((a, b) => file(a.name).localeCompare(file(b.name)) || a.index - b.index)
    .map(({ name }) => name);
}

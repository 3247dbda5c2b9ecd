/**
 * Peak RSS of one process, by a tiny C helper (peak-rss.c) that the benchmark compiles into its
 * scratch directory: the larger of wait4's ru_maxrss (approximate for a small process since Linux
 * 6.2's per-CPU counters) and the exact RSS at its exit (traced, stopped at exit, smaps_rollup).
 * Static and small (musl-gcc when present), so that what the kernel folds in at execve (the
 * helper's own image) is next to nothing: `peak-rss /bin/true` shows the floor beside every figure.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC } from './compile-c.mjs';

const SOURCE = fileURLToPath(new URL('./peak-rss.c', import.meta.url));

/** Compiles the helper into `dir`: { file, compiler }. Throws a one-line reason when no compiler can. */
export function buildPeakRss(dir) {
  return compileC(
    SOURCE,
    join(dir, 'peak-rss'),
    ['-Os'],
    [
      ['musl-gcc', ['-static']],
      ['gcc', ['-static']],
      ['gcc', []],
    ],
  );
}

/** The peak RSS (KiB) and wait status of one run of `{ file, args, env, cwd }`, its stdout ignored. */
export function peakRss(helper, { file, args, env, cwd }) {
  const result = spawnSync(helper, [file, ...args], {
    env,
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const match = /^peak-rss (\d+) (-?\d+)$/m.exec(result.stderr);
  if (!match) throw new Error(`peak-rss ${file}: no figure (${result.stderr.trim().split('\n').at(-1)})`);
  return { kib: Number(match[1]), status: Number(match[2]) };
}

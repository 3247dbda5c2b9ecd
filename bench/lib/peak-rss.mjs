/**
 * Peak RSS of one process, by a tiny C helper (peak-rss.c) that the benchmark compiles into its
 * scratch directory: the larger of wait4's ru_maxrss (approximate for a small process since Linux
 * 6.2's per-CPU counters) and the exact RSS at its exit (traced, stopped at exit, smaps_rollup).
 * Static and small (musl-gcc when present), so that what the kernel folds in at execve (the
 * helper's own image) is next to nothing: `peak-rss /bin/true` shows the floor beside every figure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./peak-rss.c', import.meta.url));

/** Compiles the helper into `dir`; its path. Throws a one-line reason when no compiler can. */
export function buildPeakRss(dir) {
  const output = join(dir, 'peak-rss');
  const flags = ['-Os', '-Wall', '-Wextra', '-Werror', '-o', output, SOURCE];
  const attempts = [
    ['musl-gcc', ['-static', ...flags]],
    ['gcc', ['-static', ...flags]],
    ['gcc', flags],
  ];
  const errors = [];
  for (const [compiler, args] of attempts) {
    const result = spawnSync(compiler, args, { encoding: 'utf8' });
    if (result.status === 0 && existsSync(output))
      return { file: output, compiler: `${compiler} ${args[0]}` };
    errors.push(`${compiler}: ${result.error?.message ?? result.stderr.trim().split('\n')[0]}`);
  }
  throw new Error(`cannot compile bench/lib/peak-rss.c (${errors.join('; ')})`);
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

/**
 * The benchmark's small C helpers (peak-rss.c, scripts/floor-server.c) compiled into its scratch
 * directory: each compiler in turn until one builds `output`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Compiles `source` into `output` with the first of `attempts` ([compiler, extra flags]) that
 * succeeds, always with -Wall -Wextra -Werror and `flags`; { file, compiler }. Throws a one-line
 * reason, every attempt's first error, when none can.
 */
export function compileC(source, output, flags, attempts) {
  const errors = [];
  for (const [compiler, extra] of attempts) {
    const args = [...extra, ...flags, '-Wall', '-Wextra', '-Werror', '-o', output, source];
    const result = spawnSync(compiler, args, { encoding: 'utf8' });
    if (result.status === 0 && existsSync(output))
      return { file: output, compiler: [compiler, ...extra].join(' ') };
    errors.push(`${compiler}: ${result.error?.message ?? result.stderr.trim().split('\n')[0]}`);
  }
  throw new Error(`cannot compile ${relative(root, source)} (${errors.join('; ')})`);
}

/**
 * C under test is built as the project builds it (-Wall -Wextra -Werror) plus AddressSanitizer and
 * UBSan, any report fatal: the front, its native stub and the frame reader's harness share this.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

export const SANITIZED_FLAGS = [
  '-Wall',
  '-Wextra',
  '-Werror',
  '-O1',
  '-g',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
];

/** gcc with SANITIZED_FLAGS: `sources` into `output`. */
export function compileSanitized(output: string, sources: string[]): SpawnSyncReturns<string> {
  return spawnSync('gcc', [...SANITIZED_FLAGS, '-o', output, ...sources], { encoding: 'utf8' });
}

/**
 * One stub call, made each way a stub can run (docs/native-stubs.md):
 * - `ts`: forced through the TypeScript client (K8PSH_NATIVE=0);
 * - `first`: the default way, which runs the TypeScript client and has it write the compiled table
 *   when there is none or it is stale;
 * - `native`: K8PSH_NATIVE=1, so that a native run is proven, not assumed: where the stub would hand
 *   over it says `k8psh: not native: <reason>` and exits 125 instead.
 * A front without a native stub (before it is built in) ignores K8PSH_NATIVE: `nativeBuilt()` says
 * so, and `native` is then a second default call.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, BIN, ROOT, type Result, type RunOptions } from '../e2e/harness.js';

export type Way = 'ts' | 'first' | 'native';
export const WAYS: readonly Way[] = ['ts', 'first', 'native'];

export const NOT_NATIVE_STATUS = 125;
export const NOT_NATIVE = /^k8psh: not native: [^\n]+\n$/;

/** The environment of one way: K8PSH_NATIVE set or removed as the way asks. */
export function wayEnv(way: Way, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.K8PSH_NATIVE;
  if (way === 'ts') out.K8PSH_NATIVE = '0';
  if (way === 'native') out.K8PSH_NATIVE = '1';
  return out;
}

let built: boolean | undefined;

/**
 * Whether dist/k8psh has the native stub: with K8PSH_NATIVE=1 and K8PSH_CONFIG set and empty (no
 * native path, docs/native-stubs.md) a native-capable front refuses with 125, an older one runs the
 * TypeScript client, which fails otherwise.
 */
export async function nativeBuilt(): Promise<boolean> {
  if (built === undefined) {
    const result = await run(BIN, ['true'], {
      argv0: 'k8psh-probe-stub',
      env: { PATH: process.env.PATH, K8PSH_NATIVE: '1', K8PSH_CONFIG: '' },
    });
    built = result.code === NOT_NATIVE_STATUS && NOT_NATIVE.test(result.err);
  }
  return built;
}

/**
 * Whether the front's sources have the native stub (its contract message `not native:`): then the
 * built front must have it too, or the exactness tests would silently compare the TypeScript client
 * with itself.
 */
export function nativeInSources(): boolean {
  const dir = join(ROOT, 'native/front');
  return readdirSync(dir).some(
    (name) => name.endsWith('.c') && readFileSync(join(dir, name), 'utf8').includes('not native:'),
  );
}

/** What a way gave: the whole outcome (debug lines' pids made equal: `k8psh[PID]`). */
export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function outcome(result: Result): Outcome {
  return {
    code: result.code,
    signal: result.signal,
    stdout: result.stdout.toString('latin1'),
    stderr: result.stderr.toString('latin1').replace(/^k8psh\[\d+\]/gm, 'k8psh[PID]'),
  };
}

/** Whether a K8PSH_NATIVE=1 call refused to hand over (and so proved nothing ran natively). */
export function refused(result: Outcome): boolean {
  return result.code === NOT_NATIVE_STATUS && NOT_NATIVE.test(result.stderr);
}

/** Runs `file` once the given way. */
export async function runWay(
  way: Way,
  file: string,
  args: readonly string[],
  options: RunOptions & { env: NodeJS.ProcessEnv },
): Promise<Outcome> {
  return outcome(await run(file, args, { ...options, env: wayEnv(way, options.env) }));
}

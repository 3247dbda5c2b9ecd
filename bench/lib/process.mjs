/** Running programs for the benchmark: to their end, timed, or counted by perf. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const NODE = process.execPath;
/** The counting `cat > /dev/null` (sink.mjs) and the rate-limited reader (slow-reader.mjs). */
export const SINK = fileURLToPath(new URL('./sink.mjs', import.meta.url));
export const SLOW_READER = fileURLToPath(new URL('./slow-reader.mjs', import.meta.url));

/** A word for sh -c, single-quoted. */
export const quote = (text) => `'${String(text).replace(/'/g, "'\\''")}'`;

/** Runs a command to its end; resolves with its status and output. Never rejects on a non-zero exit. */
export function run(
  file,
  args,
  { env = process.env, cwd, input, timeoutMs = 15 * 60 * 1000, stdio, onSpawn } = {},
) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: stdio ?? ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout?.on('data', (chunk) => out.push(chunk));
    child.stderr?.on('data', (chunk) => err.push(chunk));
    child.stdin?.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    if (child.stdin) child.stdin.end(input);
    onSpawn?.(child);
  });
}

/** `perf stat`, when installed; `works` turns false once it gives no figure (no permission, ...). */
export const perf = (() => {
  const file = ['/usr/bin/perf', '/usr/local/bin/perf'].find((f) => existsSync(f)) ?? null;
  return { file, works: file !== null };
})();

/** Wall time (ms) of one run of `{ file, args, env, cwd }`, its stdio ignored. */
export function wallTime({ file, args, env, cwd }) {
  const start = process.hrtime.bigint();
  const result = spawnSync(file, args, { env, cwd, stdio: 'ignore' });
  return {
    ok: result.status === 0,
    wall: Number(process.hrtime.bigint() - start) / 1e6,
    status: result.status,
  };
}

/** CPU time (user + system, ms, `perf stat` task-clock) of one run; NaN, and perf.works false, without. */
export function cpuTime({ file, args, env, cwd }) {
  const result = spawnSync(perf.file, ['stat', '-x,', '-e', 'task-clock', '--', file, ...args], {
    env,
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const line = result.stderr.split('\n').find((l) => l.includes('task-clock'));
  const cpu = Number(line?.split(',')[0]);
  if (!Number.isFinite(cpu)) perf.works = false;
  return cpu;
}

#!/usr/bin/env node
/**
 * The benchmark's hands in the build node (./remote.mjs starts it there with `ip netns exec`, once):
 * it runs stubs in that network namespace and times them itself, so that entering the namespace
 * is not part of any figure. One JSON request a line on stdin, one JSON reply a line on stdout
 * (`{ id, result }` or `{ id, error }`); it exits when stdin ends.
 *
 *   { op: 'ping' }
 *   { op: 'time', file, args, env, cwd }           → { ok, wall, status, stderr? }   (one run, ms)
 *   { op: 'repeat', count, file, args, env, cwd }  → { failed }                      (count runs)
 *   { op: 'wave', n, file, args, env, cwd }        → { ms, wrong }  n at once; "{i}" in args is the
 *                                                    index, and stdout must be exactly that index
 *   { op: 'run', file, args, env, cwd }            → { code, signal, stdout, stderr, wall }
 */
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { wave } from './concurrency.mjs';
import { run, wallTime } from './process.mjs';

const ops = {
  ping: () => ({ pid: process.pid }),
  time(request) {
    const result = wallTime(request);
    if (result.ok) return result;
    // Failed: once more with its stderr, which says why (a stub that could not run natively, ...).
    const again = spawnSync(request.file, request.args, {
      env: request.env,
      cwd: request.cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return { ...result, stderr: again.stderr };
  },
  repeat(request) {
    let failed = 0;
    for (let i = 0; i < request.count; i++) if (!wallTime(request).ok) failed++;
    return { failed };
  },
  wave: ({ n, file, args, env, cwd }) =>
    wave(
      n,
      (i) =>
        run(
          file,
          args.map((arg) => arg.replaceAll('{i}', String(i))),
          { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      (i) => String(i),
    ),
  async run({ file, args, env, cwd }) {
    const start = process.hrtime.bigint();
    const result = await run(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ...result, wall: Number(process.hrtime.bigint() - start) / 1e6 };
  },
};

// One request at a time, in order: a measurement never shares the machine with the next one.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, op, ...request } = JSON.parse(line);
  queue = queue.then(async () => {
    try {
      if (!ops[op]) throw new Error(`unknown op ${op}`);
      process.stdout.write(`${JSON.stringify({ id, result: await ops[op](request) })}\n`);
    } catch (error) {
      process.stdout.write(
        `${JSON.stringify({ id, error: error instanceof Error ? error.stack : String(error) })}\n`,
      );
    }
  });
});

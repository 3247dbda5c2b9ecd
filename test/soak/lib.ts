/**
 * Soak sessions (issue 7 §4), shared by the suite's small soak
 * (test/hostile/soak-small.test.ts) and `npm run soak` (test/soak/soak.ts).
 *
 * Every session runs `echoer ID CODE` with its own stdin: the command writes
 * "out ID\n" then its stdin to stdout, "err ID\n" to stderr, and exits CODE.
 * Each output is checked byte for byte, so a lost, extra or crossed byte is
 * caught. Two kinds of client:
 *  - raw: an in-process protocol client (hand-made frames, one socket, no
 *    process), alternating new (HELLO) and original framing — fast;
 *  - stub: the real client executable through a stub made by `k8pshd -e`
 *    (~100-200 ms of start-up each on this 2-core machine).
 * Meanwhile the server is watched through /proc: descriptors, zombie
 * children, resident memory.
 */
import { join } from 'node:path';
import { run, sleep } from '../e2e/harness.js';
import {
  converse,
  fdCount,
  hello,
  makeWorkspace,
  request,
  randomBytes,
  rss,
  startServer,
  stringFrame,
  T,
  zombies,
  type Workspace,
} from '../hostile/harness.js';
import type { Server } from '../e2e/harness.js';

export const ECHOER = `/bin/sh -c 'echo "out $1"; echo "err $1" >&2; cat; exit $2' sh`;

/** The stdin of session `id`: deterministic, of a size that varies from 0 to ~200 KiB. */
export function payload(id: number): Buffer {
  const sizes = [0, 1, 100, 4095, 4096, 65535, 65536, 65537, 200_000, 12345];
  return randomBytes((id * 2654435761) >>> 0, sizes[id % sizes.length]!);
}

export function exitCode(id: number): number {
  return id % 7 === 0 ? 0 : id % 256;
}

export interface Outcome {
  id: number;
  /** Empty when everything was exact; otherwise what was wrong. */
  problems: string[];
}

/** One session through an in-process protocol client. */
export async function rawSession(port: number, id: number): Promise<Outcome> {
  const modern = id % 2 === 0;
  const input = payload(id);
  const stdin: Buffer[] = [];
  for (let offset = 0; offset < input.length; offset += 65536)
    stdin.push(stringFrame(T.STDIN_DATA, input.subarray(offset, offset + 65536)));
  const bytes = Buffer.concat([
    modern ? hello() : Buffer.alloc(0),
    request('echoer', { args: [`s${id}`, String(exitCode(id))] }),
    ...stdin,
    stringFrame(T.STDIN_DATA, ''),
  ]);
  const result = await converse(port, bytes, { timeoutMs: 60000 });
  const problems: string[] = [];
  if (!result.closed) problems.push('no close within 60 s');
  const frames = result.frames;
  const parsedBytes = frames.reduce((sum, f) => sum + 5 + (f.payload?.length ?? 0), 0);
  if (parsedBytes !== result.raw.length)
    problems.push(`${result.raw.length - parsedBytes} bytes after the frames`);
  let rest = frames;
  if (modern) {
    if (frames[0]?.type !== T.HELLO) problems.push('no HELLO reply first');
    rest = frames.slice(1);
  } else if (frames.some((f) => f.type > 8)) problems.push('a frame outside 0-8 to an original client');
  const join = (type: number) =>
    Buffer.concat(rest.filter((f) => f.type === type && f.payload).map((f) => f.payload!));
  const ends = (type: number) => rest.filter((f) => f.type === type && f.value === 0).length;
  const stdout = join(T.STDOUT_DATA);
  const expected = Buffer.concat([Buffer.from(`out s${id}\n`), input]);
  if (!stdout.equals(expected))
    problems.push(
      `stdout: ${stdout.length} bytes, expected ${expected.length}${stdout.length === expected.length ? ' (different)' : ''}`,
    );
  if (join(T.STDERR_DATA).toString() !== `err s${id}\n`)
    problems.push(`stderr: ${JSON.stringify(join(T.STDERR_DATA).toString().slice(0, 100))}`);
  if (ends(T.STDOUT_DATA) !== 1 || ends(T.STDERR_DATA) !== 1)
    problems.push('stdout/stderr not ended exactly once');
  const last = rest[rest.length - 1];
  if (last?.type !== T.EXIT_CODE || last.value !== exitCode(id))
    problems.push(`last frame ${last?.type}:${last?.value}, expected EXIT_CODE ${exitCode(id)}`);
  if (rest.filter((f) => f.type === T.EXIT_CODE).length !== 1) problems.push('EXIT_CODE not exactly once');
  return { id, problems };
}

/** One session through the real client (a stub). */
export async function stubSession(ws: Workspace, id: number): Promise<Outcome> {
  const input = payload(id);
  const r = await run(join(ws.bin, 'echoer'), [`s${id}`, String(exitCode(id))], {
    env: ws.env,
    cwd: ws.dir,
    input,
    timeoutMs: 120000,
  });
  const problems: string[] = [];
  const expected = Buffer.concat([Buffer.from(`out s${id}\n`), input]);
  if (!r.stdout.equals(expected))
    problems.push(`stdout: ${r.stdout.length} bytes, expected ${expected.length}`);
  if (r.err !== `err s${id}\n`) problems.push(`stderr: ${JSON.stringify(r.err.slice(0, 200))}`);
  if (r.code !== exitCode(id)) problems.push(`exit ${r.code} (signal ${r.signal}), expected ${exitCode(id)}`);
  return { id, problems };
}

export interface Health {
  fds: number;
  zombies: number[];
  rss: number;
}

export function health(pid: number): Health {
  return { fds: fdCount(pid), zombies: zombies(pid), rss: rss(pid) };
}

/** Waits until the server has no child and its descriptors are back to `fds` (or the time is up). */
export async function settle(pid: number, fds: number, ms = 10000): Promise<Health> {
  const deadline = Date.now() + ms;
  let now = health(pid);
  while (Date.now() < deadline && (now.fds > fds || now.zombies.length > 0)) {
    await sleep(100);
    now = health(pid);
  }
  return now;
}

export interface SoakServer {
  ws: Workspace;
  server: Server;
  pid: number;
  port: number;
}

export async function startSoakServer(port: number): Promise<SoakServer> {
  const ws = await makeWorkspace(`[ soak:${port} ]\nechoer ${ECHOER}\n`);
  const server = await startServer(['--name', 'soak'], port, { env: ws.env, cwd: ws.dir });
  return { ws, server, pid: server.process.pid!, port };
}

/** Runs `count` sessions one after another; `every` is called with the session number now and then. */
export async function sequential(
  count: number,
  session: (id: number) => Promise<Outcome>,
  every?: (done: number) => void,
  firstId = 0,
): Promise<Outcome[]> {
  const failed: Outcome[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = await session(firstId + i);
    if (outcome.problems.length > 0) failed.push(outcome);
    if (every && (i + 1) % Math.max(1, Math.floor(count / 10)) === 0) every(i + 1);
  }
  return failed;
}

/** Runs `count` sessions all at once. */
export async function concurrent(
  count: number,
  session: (id: number) => Promise<Outcome>,
  firstId = 0,
): Promise<Outcome[]> {
  const outcomes = await Promise.all(Array.from({ length: count }, (_, i) => session(firstId + i)));
  return outcomes.filter((o) => o.problems.length > 0);
}

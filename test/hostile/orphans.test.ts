/**
 * Orphans and the server's own death (issue 21, item 4 and "Also found"). In a Pod k8pshd is the
 * container's PID 1 (config/k8s/build-pod.yaml), so every process a command leaves behind becomes
 * its child when that command exits; elsewhere the server makes itself a child subreaper so that
 * the same holds. It must reap them all, without ever taking the exit status of a child that the
 * server itself, libuv (relayed commands) or node-pty (terminal commands) is waiting for
 * (src/server/orphans.ts). And a command started on passed descriptors must not outlive a server
 * killed by SIGKILL, to write into the caller's file after the stub has given up.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { cleanup, freePort, run, sleep, type Result, type Server } from '../e2e/harness.js';
import {
  children,
  DAEMON,
  eventually,
  makeWorkspace,
  SKIP_UNBUILT,
  startServer,
  zombies,
  type Workspace,
} from './harness.js';

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((path) => existsSync(path));
const SKIP_PID1 =
  SKIP_UNBUILT ||
  (process.getuid?.() !== 0 ? 'needs root (a new PID namespace)' : !UNSHARE ? 'no unshare' : false);

const CONFIG = (port: number): string =>
  `[ srv:${port} ]\n` +
  // The reproduction: the background sleep is orphaned when sh exits.
  `orphan /bin/sh -c 'sleep 0.2 & exit 0'\n` +
  // An orphan that tells its pid and holds none of the caller's streams.
  `orphan-pid /bin/sh -c 'sleep 0.5 </dev/null >/dev/null 2>&1 & echo "$!"'\n` +
  `bg7 /bin/sh -c 'sleep 0.1 & exit 7'\n` +
  `plain3 /bin/sh -c 'exit 3'\n` +
  // Its own pid into the file named by $1 first, then a late write to the caller's stdout.
  `late /bin/sh -c 'echo "$$" > "$1"; sleep 2; echo late' sh\n`;

/** The three ways a command runs: on passed descriptors, relayed over TCP, in a pseudo-terminal. */
const PATHS = {
  native: {},
  relayed: { K8PSH_DIRECT_STDIO: '0' },
  terminal: { K8PSH_TTY: '1' },
} as const;
type PathName = keyof typeof PATHS;

function pathEnv(ws: Workspace, path: PathName): NodeJS.ProcessEnv {
  return { ...ws.env, ...PATHS[path] };
}

/**
 * A stub call on `path`, all output collected. On the terminal path stdin stays open until the stub
 * has exited: the end of stdin becomes a ^D that node-pty writes to its pty's descriptor with an
 * asynchronous write, which can land after the pty closed, on whatever reused the number (another
 * session's socket: that client then reads a stray byte before its HELLO). That is not what these
 * tests are about.
 */
function call(ws: Workspace, path: PathName, command: string): Promise<Result> {
  const options = { env: pathEnv(ws, path), cwd: ws.dir, timeoutMs: 60000 };
  if (path !== 'terminal') return run(join(ws.bin, command), [], options);
  const child = spawn(join(ws.bin, command), [], { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} on the terminal path did not finish in ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('exit', () => child.stdin.end());
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err);
      resolve({ code, signal, stdout, stderr, out: stdout.toString(), err: stderr.toString() });
    });
  });
}

/** State and parent of a process from /proc, or null once it is gone (reaped). */
function stat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** k8pshd as PID 1 of a new PID namespace (with its own /proc), as in a container; its host pid. */
async function startPid1Server(ws: Workspace, port: number): Promise<{ server: Server; pid: number }> {
  const server = await startServer(
    ['--pid', '--fork', '--kill-child', '--mount-proc', DAEMON, '--name', 'srv'],
    port,
    { env: ws.env, cwd: ws.dir },
    UNSHARE,
  );
  const inner = children(server.process.pid!).map((child) => child.pid);
  if (inner.length !== 1) throw new Error(`unshare has ${inner.length} children, not the one server`);
  const pid = inner[0]!;
  const nspid = /^NSpid:.*\s(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (nspid !== '1') throw new Error(`the server is ${nspid} in its PID namespace, not 1`);
  return { server, pid };
}

/** 21 calls of the command through the stubs on `path`, all at once; each must exit 0. */
async function makeOrphans(t: Test, ws: Workspace, path: PathName): Promise<void> {
  const results = await Promise.all(Array.from({ length: 21 }, () => call(ws, path, 'orphan')));
  t.same(
    results.map((result) => result.code),
    Array<number>(21).fill(0),
    `${path}: 21 calls, each exit 0 (${results.find((r) => r.code !== 0)?.err ?? ''})`,
  );
}

/** No child of the server at all (running or zombie) within the deadline; else the zombies named. */
async function noChildrenLeft(t: Test, pid: number, label: string): Promise<void> {
  const gone = await eventually(() => children(pid).length === 0, 5000, 100);
  t.ok(
    gone,
    `${label}: no child of the server left 5 s later (zombies: ${zombies(pid).join(' ') || 'none'})`,
  );
}

/**
 * Concurrent calls mixing a command that orphans a sleep and exits 7 with one that exits 3, on all
 * three paths: each must report its own code, every time. A reaper that took a status meant for its
 * owner makes a relayed call hang (libuv never hears of its child again), a terminal call report a
 * wrong code (node-pty's waitpid fails) and a direct call report no code.
 */
async function exactStatuses(t: Test, ws: Workspace, rounds: number): Promise<void> {
  const calls: { path: PathName; command: string; expected: number }[] = [];
  for (const path of Object.keys(PATHS) as PathName[])
    for (let i = 0; i < 10; i++)
      calls.push(i % 2 ? { path, command: 'plain3', expected: 3 } : { path, command: 'bg7', expected: 7 });
  for (let round = 1; round <= rounds; round++) {
    const results = await Promise.all(
      calls.map(({ path, command }) =>
        call(ws, path, command).then(
          (result) => (result.code === 255 ? `255 ${result.err.trim()}` : result.code),
          (error: Error) => error.message,
        ),
      ),
    );
    const wrong = calls
      .map((call, i) => ({ ...call, got: results[i] }))
      .filter((call) => call.got !== call.expected)
      .map((call) => `${call.path} ${call.command}: ${call.got}`);
    t.same(wrong, [], `round ${round}: ${calls.length} calls, each its own exit code`);
  }
}

t.test('orphans under a PID-1 server: all reaped, no zombies left', { skip: SKIP_PID1 }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(CONFIG(port));
  const { server, pid } = await startPid1Server(ws, port);
  t.teardown(async () => {
    await server.stop('SIGKILL');
    cleanup(ws.dir);
  });
  for (const path of ['native', 'relayed'] as const) {
    await makeOrphans(t, ws, path);
    await noChildrenLeft(t, pid, path);
  }
  t.test('exit statuses stay exact while orphans are reaped (PID 1)', (t) => exactStatuses(t, ws, 2));
});

t.test(
  'orphans under a server that is not PID 1: reparented to it (subreaper) and reaped',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(CONFIG(port));
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    const pid = server.process.pid!;
    t.teardown(async () => {
      await server.stop('SIGKILL');
      cleanup(ws.dir);
    });
    for (const path of Object.keys(PATHS) as PathName[]) {
      const result = await call(ws, path, 'orphan-pid');
      t.equal(result.code, 0, `${path}: exit 0 ${result.err}`);
      const orphan = Number(result.out.trim());
      t.equal(stat(orphan)?.ppid, pid, `${path}: the orphaned sleep's parent is now the server`);
      t.ok(
        await eventually(() => stat(orphan) === null, 5000, 100),
        `${path}: the orphan is reaped once it ends (now: ${JSON.stringify(stat(orphan))})`,
      );
    }
    for (const path of ['native', 'relayed'] as const) await makeOrphans(t, ws, path);
    await noChildrenLeft(t, pid, 'after 42 more calls');
    t.test('exit statuses stay exact while orphans are reaped', (t) => exactStatuses(t, ws, 3));
  },
);

t.test(
  'server SIGKILLed while a command runs on passed descriptors: the command dies with it',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(CONFIG(port));
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    t.teardown(async () => {
      await server.stop('SIGKILL');
      cleanup(ws.dir);
    });
    const pidFile = join(ws.dir, 'late.pid');
    const outputFile = join(ws.dir, 'late.out');
    const output = openSync(outputFile, 'w');
    t.teardown(() => closeSync(output));
    const stub = spawn(join(ws.bin, 'late'), [pidFile], {
      env: ws.env,
      cwd: ws.dir,
      stdio: ['ignore', output, 'pipe'],
    });
    let stderr = '';
    stub.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => stub.on('exit', (code) => resolve(code)));
    t.ok(
      await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 10000),
      'the command started',
    );
    const command = Number(readFileSync(pidFile, 'utf8'));
    t.equal(stat(command)?.ppid, server.process.pid, 'it is the server’s child');
    server.process.kill('SIGKILL');
    const code = await Promise.race([exited, sleep(5000).then(() => 'no exit within 5 s')]);
    t.equal(code, 255, `the stub exits 255: ${stderr.trim()}`);
    // Well before its `sleep 2` would have ended it. Its new parent is this machine's init, which may
    // be slow to reap: a zombie no longer runs either.
    const ended = (): boolean => stat(command) === null || stat(command)?.state === 'Z';
    t.ok(await eventually(ended, 1000), `the command is gone (${JSON.stringify(stat(command))})`);
    await sleep(3000);
    t.notMatch(readFileSync(outputFile, 'utf8'), /late/, 'nothing written into the caller’s file 3 s later');
  },
);

/**
 * A server's own death (issue 21, "Also found"): a command started on passed descriptors must not
 * outlive a server killed by SIGKILL, to write into the caller's file after the stub has given up.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanup, freePort, sleep } from '../e2e/harness.js';
import { eventually, makeWorkspace, SKIP_UNBUILT, startServer } from './harness.js';

const CONFIG = (port: number): string =>
  `[ srv:${port} ]\n` +
  // Its own pid into the file named by $1 first, then a late write to the caller's stdout.
  `late /bin/sh -c 'echo "$$" > "$1"; sleep 2; echo late' sh\n`;

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

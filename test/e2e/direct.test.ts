/**
 * Passed descriptors (docs/protocol.md): the remote command runs on the client's own stdin, stdout
 * and stderr, as a local command would; with K8PSH_DIRECT_STDIO=0 the same session is relayed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  cleanup,
  freePort,
  makeWorkspace,
  pidsMatching,
  run,
  sleep,
  SKIP_UNBUILT,
  startServer,
  runWithFiles,
  writeFile,
  type Server,
  type Workspace,
} from './harness.js';

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function ended(child: ChildProcess): Promise<Ended> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

t.test('passed descriptors', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws: Workspace = await makeWorkspace(`
connectTimeoutMs = 5000
[ srv:${port} ]
sh
yes
grep
cut
missing /nonexistent/program
`);
  const server: Server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);
  const dir = realpathSync(ws.dir);

  /** Runs a stub with files as its stdin and stdout; resolves with how it ended and its stdout. */
  const withFiles = (name: string, args: string[], input: string, env: NodeJS.ProcessEnv = ws.env) =>
    runWithFiles(stub(name), args, input, { dir, env });

  const script = 'readlink /proc/self/fd/0 /proc/self/fd/1; cat';

  t.test('the command reads and writes the client files themselves', async (t) => {
    const r = await withFiles('sh', ['-c', script], 'from the file\n');
    t.same([r.code, r.signal], [0, null]);
    t.equal(r.output, `${r.inputFile}\n${r.outputFile}\nfrom the file\n`);
  });

  t.test('the command starts as libuv would start it: own session, no inherited signal state', async (t) => {
    const stat = await withFiles('cut', ['-d', ' ', '-f', '1,5,6', '/proc/self/stat'], '');
    t.equal(stat.code, 0);
    const [pid, group, session] = stat.output.trim().split(' ');
    t.ok(pid && group === pid && session === pid, `a session and group leader: ${stat.output.trim()}`);
    // Node ignores SIGPIPE and handles several signals: none of it may reach the command, exactly as
    // with libuv's spawn (the relayed session); glibc's posix_spawn would leave signals 32, 33 ignored.
    const args = ['-E', '^Sig(Ign|Blk|Cgt):', '/proc/self/status'];
    const direct = await withFiles('grep', args, '');
    const relayed = await withFiles('grep', args, '', { ...ws.env, K8PSH_DIRECT_STDIO: '0' });
    t.match(direct.output, /^SigBlk:\t0+\nSigIgn:\t0+\n/, 'nothing blocked or ignored');
    t.equal(direct.output, relayed.output, 'as libuv starts it');
  });

  t.test('K8PSH_DIRECT_STDIO=0: the same session, relayed through pipes', async (t) => {
    const r = await withFiles('sh', ['-c', script], 'from the file\n', {
      ...ws.env,
      K8PSH_DIRECT_STDIO: '0',
    });
    t.same([r.code, r.signal], [0, null]);
    const lines = r.output.split('\n');
    t.match(lines[0], /^(pipe|socket):\[\d+\]$/, 'stdin is the server end of a pipe');
    t.match(lines[1], /^(pipe|socket):\[\d+\]$/, 'stdout too');
    t.equal(lines.slice(2).join('\n'), 'from the file\n');
  });

  t.test('the exit is reported when the command ends, as locally', async (t) => {
    // A background process keeps stdout: a relaying client waits for its end, a local command does not.
    const started = Date.now();
    const r = await withFiles('sh', ['-c', '(sleep 6; echo late) & echo early'], '');
    t.same([r.code, r.signal], [0, null]);
    t.ok(Date.now() - started < 5000, 'the client did not wait for the background process');
    t.equal(r.output, 'early\n');
    let output = r.output;
    for (let i = 0; i < 150 && !output.includes('late'); i++) {
      await sleep(100);
      output = readFileSync(r.outputFile, 'utf8');
    }
    t.equal(output, 'early\nlate\n', 'the background process wrote into the same file later');
  });

  t.test('a reader that goes away: the command itself sees it, as a local one would', async (t) => {
    // Node's 'pipe' is a socketpair: a local `yes` then ends by SIGPIPE or, when the reader left
    // bytes unread, with ECONNRESET (exit 1). Relayed, the client would see it and send SIGPIPE.
    const child = spawn(stub('yes'), [], { env: ws.env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const end = await new Promise<Ended>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    const byReset = end.code === 1 && /^yes: standard output: Connection reset by peer\n$/.test(err);
    const byPipe = end.code === 128 + 13 && err === '';
    t.ok(byReset || byPipe, `ended as a local yes does: ${JSON.stringify({ ...end, err })}`);
  });

  t.test('refused and failed sessions leave no descriptor behind in the server', async (t) => {
    const pid = server.process.pid!;
    const count = (): number => readdirSync(`/proc/${pid}/fd`).length;
    // Warm up once (lazily opened descriptors of the server itself are not leaks).
    await run(stub('sh'), ['-c', 'true'], { env: ws.env, cwd: dir });
    await run(stub('missing'), [], { env: ws.env, cwd: dir });
    await sleep(200);
    const before = count();
    for (let i = 0; i < 10; i++) {
      t.equal((await run(stub('missing'), [], { env: ws.env, cwd: dir })).code, 127, 'not found');
      t.equal((await run(stub('sh'), ['-c', 'exit 3'], { env: ws.env, cwd: dir })).code, 3, 'ran');
    }
    await sleep(200);
    t.equal(count(), before, 'as many descriptors as before');
  });

  t.test('the server dies: the client fails at once with a message', async (t) => {
    const port2 = await freePort();
    const ws2 = await makeWorkspace(`[ srv:${port2} ]\nwait /bin/sh -c 'echo started; exec sleep 30.5813'\n`);
    const server2 = await startServer(['--name', 'srv'], port2, { env: ws2.env, cwd: ws2.dir });
    t.teardown(async () => {
      await server2.stop('SIGKILL');
      for (const pid of await pidsMatching('sleep 30.5813')) process.kill(pid, 'SIGKILL');
      cleanup(ws2.dir);
    });
    // Files, not pipes: the orphaned command keeps the client's descriptors (as a local one would).
    const out = writeFile(join(ws2.dir, 'out'), '');
    const err = writeFile(join(ws2.dir, 'err'), '');
    const stdout = openSync(out, 'w');
    const stderr = openSync(err, 'w');
    const child = spawn(join(ws2.bin, 'wait'), [], {
      env: ws2.env,
      cwd: ws2.dir,
      stdio: ['ignore', stdout, stderr],
    });
    closeSync(stdout);
    closeSync(stderr);
    const end = ended(child);
    for (let i = 0; i < 100 && !readFileSync(out, 'utf8').includes('started'); i++) await sleep(50);
    t.equal(readFileSync(out, 'utf8'), 'started\n', 'the command wrote into the file itself');
    const killedAt = Date.now();
    server2.process.kill('SIGKILL');
    t.same(await end, { code: 255, signal: null });
    t.ok(Date.now() - killedAt < 3000, `ended ${Date.now() - killedAt} ms after the server`);
    t.equal(
      readFileSync(err, 'utf8'),
      'k8psh: connection to the server was lost before the command finished\n',
    );
  });
});

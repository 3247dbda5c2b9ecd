/**
 * Lifecycle faults (issue 7 §3): a client killed mid-stream, the server
 * stopped (drained) or killed, start-up failures with clear messages, and
 * --background. Not repeated here: a foreign file in the stub directory is
 * never replaced without -o (test/e2e/stubs.test.ts, "stubs are removed on
 * exit unless -k; foreign files are not replaced without -o").
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { alive, canConnect, cleanup, freePort, pidsMatching, run, sleep, writeFile } from '../e2e/harness.js';
import {
  converse,
  DAEMON,
  eventually,
  hello,
  makeWorkspace,
  refusal,
  SKIP_UNBUILT,
  startServer,
  stringFrame,
  T,
} from './harness.js';

/**
 * Whether `file` holds `pid` within a second: the server writes its pidfile just after listen(),
 * and the port accepts connections (what startServer waits for) a moment before that.
 */
function holds(file: string, pid: number): Promise<boolean> {
  const read = (): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return eventually(() => read() === `${pid}\n`, 1000, 10);
}

/** Starts a stub and resolves once its stdout shows `marker`. */
function startClient(file: string, env: NodeJS.ProcessEnv, cwd: string, marker: string) {
  const child = spawn(file, [], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(marker)) resolve();
    });
    child.on('exit', () => reject(new Error(`client ended before "${marker}": ${err}`)));
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, ready, ended };
}

async function killAll(marker: string): Promise<void> {
  for (const pid of await pidsMatching(marker))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
}

function listen(port: number): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

t.test(
  'a client SIGKILLed mid-stream: the remote process group is gone within 3 s',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(
      `[ srv:${port} ]\n` +
        // Grandchildren in the background, output streaming.
        `tree /bin/sh -c 'sleep 60.4711 & sleep 60.4712 & while :; do echo tick; sleep 0.05; done'\n` +
        // The same, ignoring SIGTERM (inherited by the sleeps): only the SIGKILL 2 s later ends it.
        `stubborn /bin/sh -c 'trap "" TERM; sleep 60.4713 & sleep 60.4714 & while :; do echo tick; sleep 0.05; done'\n`,
    );
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    t.teardown(async () => {
      await server.stop();
      for (const marker of ['60.4711', '60.4712', '60.4713', '60.4714']) await killAll(`sleep ${marker}`);
      cleanup(ws.dir);
    });
    for (const [name, sleeps] of [
      ['tree', ['sleep 60.4711', 'sleep 60.4712']],
      ['stubborn', ['sleep 60.4713', 'sleep 60.4714']],
    ] as const)
      t.test(name, async (t) => {
        const client = startClient(join(ws.bin, name), ws.env, ws.dir, 'tick\ntick\n');
        await client.ready;
        // (The shell's command line names them too: it is part of the same group.)
        for (const sleep of sleeps) t.ok((await pidsMatching(sleep)).length >= 2, `${sleep} runs`);
        const killedAt = Date.now();
        client.child.kill('SIGKILL');
        const gone = await eventually(
          async () => (await Promise.all(sleeps.map((s) => pidsMatching(s)))).every((p) => p.length === 0),
          3000,
        );
        t.ok(gone, `the grandchildren are gone in ${Date.now() - killedAt} ms`);
        t.equal((await client.ended).signal, 'SIGKILL');
      });
    t.test('the server goes on', async (t) => {
      t.equal(server.process.exitCode, null);
      t.notMatch(server.stderr(), /internal error/);
    });
  },
);

t.test(
  'server SIGTERM: drains running sessions, exits 0, removes stubs and pidfile',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(
      `[ srv:${port} ]\nslow /bin/sh -c 'echo started; cat >/dev/null; sleep 1; echo "done $1"; exit 3' sh\n[ other:${port + 1} ]\nremote /bin/true\n`,
    );
    const stubs = join(ws.dir, 'server-stubs');
    const pidfile = join(ws.dir, 'run', 'k8pshd.pid');
    writeFile(join(ws.dir, 'run', '.keep'), '');
    const server = await startServer(
      ['--name', 'srv', '-e', stubs, '--pidfile', pidfile, '--request-timeout', '20000'],
      port,
      { env: ws.env, cwd: ws.dir },
    );
    t.teardown(async () => {
      await server.stop('SIGKILL');
      cleanup(ws.dir);
    });
    t.ok(await holds(pidfile, server.process.pid!), 'the pidfile holds the server pid');
    t.same(readdirSync(stubs), ['remote'], 'stubs created');

    const running = spawn(join(ws.bin, 'slow'), ['x'], {
      env: ws.env,
      cwd: ws.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    running.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const ended = new Promise<number | null>((resolve) => running.on('close', (code) => resolve(code)));
    await eventually(() => out.includes('started'), 15000);
    // An idle connection must not hold the exit until its request timeout (20 s here).
    const idle = converse(port, Buffer.concat([hello(), stringFrame(T.WORKING_DIRECTORY, '')]));
    await sleep(200);

    const stoppedAt = Date.now();
    server.process.kill('SIGTERM');
    await sleep(300);
    t.equal(server.process.exitCode, null, 'still draining');
    t.notOk(await canConnect(port), 'no longer accepting');
    running.stdin.end('input\n');
    t.equal(await ended, 3, 'the running session completes with its exit code');
    t.equal(out, 'started\ndone x\n', 'and its whole output');
    t.equal(await server.exitedWithin(10000, 'after SIGTERM and its last session'), 0, 'the server exits 0');
    t.ok(Date.now() - stoppedAt < 10000, `soon after the session ended (${Date.now() - stoppedAt} ms)`);
    const idleResult = await idle;
    t.same(refusal(idleResult), {
      message: 'server srv is shutting down',
      code: 1,
      types: [T.HELLO, T.ERROR, T.EXIT_CODE],
    });
    t.notOk(existsSync(pidfile), 'pidfile removed');
    t.same(readdirSync(stubs), [], 'stubs removed');
  },
);

t.test('server SIGKILL: connected clients fail fast with a message', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ]\nwait /bin/sh -c 'echo started; exec sleep 30.4721'\n`);
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop('SIGKILL');
    await killAll('sleep 30.4721');
    cleanup(ws.dir);
  });
  // Relayed: with passed descriptors the orphaned `sleep` would hold the pipes this test reads until
  // it ends (as any orphan would). In a Pod k8pshd is PID 1 of its container: its death kills them.
  const env = { ...ws.env, K8PSH_DIRECT_STDIO: '0' };
  const clients = Array.from({ length: 3 }, () => startClient(join(ws.bin, 'wait'), env, ws.dir, 'started'));
  await Promise.all(clients.map((c) => c.ready));
  const killedAt = Date.now();
  server.process.kill('SIGKILL');
  for (const client of clients) {
    const result = await client.ended;
    t.equal(result.code, 255);
    t.equal(result.err, 'k8psh: connection to the server was lost before the command finished\n');
  }
  t.ok(Date.now() - killedAt < 2000, `all failed within ${Date.now() - killedAt} ms`);
});

t.test(
  'start-up failures: clear messages, exit 1, nothing left behind',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(
      `[ srv:${port} ]\nok /bin/echo ok\n[ other:${port + 1} ]\nremote /bin/true\n`,
      {
        stubs: false,
      },
    );
    t.teardown(() => cleanup(ws.dir));
    const opts = { env: ws.env, cwd: ws.dir };
    const stubs = join(ws.dir, 'stubs');

    t.test('port already in use', async (t) => {
      const squatter = await listen(port);
      t.teardown(() => squatter.close());
      const r = await run(DAEMON, ['--name', 'srv', '-e', stubs], opts);
      t.equal(r.code, 1);
      t.equal(r.err, `k8pshd: port ${port} is already in use (server srv on 127.0.0.1:${port})\n`);
      t.same(existsSync(stubs) ? readdirSync(stubs) : [], [], 'its stubs are removed again');
    });

    t.test('pidfile of a live process: refused; of a dead one: replaced', async (t) => {
      const pidfile = writeFile(join(ws.dir, 'live.pid'), `${process.pid}\n`);
      const r = await run(DAEMON, ['--name', 'srv', '-e', stubs, '--pidfile', pidfile], opts);
      t.equal(r.code, 1);
      t.equal(r.err, `k8pshd: pidfile ${pidfile} belongs to running process ${process.pid}\n`);
      t.equal(readFileSync(pidfile, 'utf8'), `${process.pid}\n`, 'left as it was');
      t.same(existsSync(stubs) ? readdirSync(stubs) : [], [], 'no stubs left behind');
      t.notOk(await canConnect(port), 'not listening');

      const dead = spawn('/bin/true');
      await new Promise((resolve) => dead.on('exit', resolve));
      await eventually(() => !alive(dead.pid!), 2000);
      const stale = writeFile(join(ws.dir, 'stale.pid'), `${dead.pid}\n`);
      const server = await startServer(['--name', 'srv', '--pidfile', stale], port, opts);
      t.ok(await holds(stale, server.process.pid!), 'a stale pidfile is replaced');
      t.equal(await server.stop(), 0);
      t.notOk(existsSync(stale), 'and removed on exit');
      const garbage = writeFile(join(ws.dir, 'garbage.pid'), 'not a pid\n');
      const again = await startServer(['--name', 'srv', '--pidfile', garbage], port, opts);
      t.ok(await holds(garbage, again.process.pid!), 'so is one that holds no pid');
      t.equal(await again.stop(), 0);
    });

    t.test('stub directory that cannot be created', async (t) => {
      const file = writeFile(join(ws.dir, 'a-file'), 'x');
      const under = await run(DAEMON, ['--name', 'srv', '-e', join(file, 'sub')], opts);
      t.equal(under.code, 1);
      t.equal(
        under.err,
        `k8pshd: cannot create the executable directory ${join(file, 'sub')}: ENOTDIR (not a directory)\n`,
      );
      const proc = await run(DAEMON, ['--name', 'srv', '-e', '/proc/k8psh-no-such/bin'], {
        ...opts,
        timeoutMs: 10000,
      });
      t.equal(proc.code, 1, 'no endless loop under /proc');
      t.equal(
        proc.err,
        'k8pshd: cannot create the executable directory /proc/k8psh-no-such/bin: ENOENT (no such file or directory)\n',
      );
      const itself = await run(DAEMON, ['--name', 'srv', '-e', file], opts);
      t.equal(itself.code, 1);
      t.match(
        itself.err,
        new RegExp(`^k8pshd: cannot create the executable directory ${file}: .*not a directory\\n$`),
      );
      const readOnly = await run(DAEMON, ['--name', 'srv', '-e', '/proc/self'], opts);
      t.equal(readOnly.code, 1);
      t.match(readOnly.err, /^k8pshd: cannot create the client executable \/proc\/self\/remote: \w+/);
      t.notOk(await canConnect(port), 'none of them listens');
    });
  },
);

t.test('--background', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ]\nok /bin/echo ok\n`);
  const pidfile = join(ws.dir, 'k8pshd.pid');
  const opts = { env: ws.env, cwd: ws.dir };
  let daemon = 0;
  t.teardown(() => {
    if (daemon && alive(daemon)) process.kill(daemon, 'SIGKILL');
    cleanup(ws.dir);
  });

  const started = await run(DAEMON, ['--background', '--name', 'srv', '--pidfile', pidfile], opts);
  t.equal(started.code, 0, started.err);
  t.ok(await canConnect(port), 'listening as soon as the parent has exited');
  daemon = Number(readFileSync(pidfile, 'utf8'));
  t.ok(alive(daemon), `the daemon ${daemon} runs`);
  t.not(daemon, 0);
  const session = await run(join(ws.bin, 'ok'), [], opts);
  t.equal(session.out, 'ok\n', session.err);

  const failed = await run(DAEMON, ['-b', '--name', 'srv', '--pidfile', join(ws.dir, 'second.pid')], opts);
  t.equal(failed.code, 1, 'a second daemon on the same port: the parent exits 1');
  t.equal(failed.err, `k8pshd: port ${port} is already in use (server srv on 127.0.0.1:${port})\n`);
  t.notOk(existsSync(join(ws.dir, 'second.pid')), 'and leaves no pidfile');
  const sameFile = await run(DAEMON, ['-b', '--name', 'srv', '--pidfile', pidfile], opts);
  t.equal(sameFile.code, 1);
  // The port is taken before the pidfile is written: the same refusal as above.
  t.equal(sameFile.err, `k8pshd: port ${port} is already in use (server srv on 127.0.0.1:${port})\n`);
  t.equal(Number(readFileSync(pidfile, 'utf8')), daemon, 'the running daemon keeps its pidfile');

  process.kill(daemon, 'SIGTERM');
  t.ok(await eventually(() => !alive(daemon), 5000), 'SIGTERM stops the daemon');
  t.notOk(existsSync(pidfile), 'and its pidfile is removed');
  t.notOk(await canConnect(port));
});

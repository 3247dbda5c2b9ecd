/** A drop-in k8psh, end to end: the original's own cases and what the issue lists (real server, stubs, sockets). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  BIN,
  cleanup,
  freePort,
  makeWorkspace,
  run,
  SKIP_UNBUILT,
  startServer,
  type Server,
  type Workspace,
} from './harness.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

t.test('sessions through stubs', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws: Workspace = await makeWorkspace(`
connectTimeoutMs = 5000
[ srv:${port} ]
printvar NAME= PATH= /bin/sh -c 'printenv NAME; printenv PATH'
inherit =PATH= /bin/sh -c 'echo "value, $1" >&2; printenv PATH; exit 1' sh
optional ?PATH= /bin/sh -c 'cat; exit 2'
closer /bin/sh -c 'exec <&- >&- 2>&-; sleep 0.25; exit 3'
args /usr/bin/printf '[%s]'
onlyfoo FOO= /usr/bin/env
pwd
cat
errcat /bin/sh -c 'cat >&2'
false
`);
  const server: Server = await startServer(['--name', 'srv'], port, {
    env: { ...ws.env, PATH: '/usr/local/bin:/usr/bin:/bin', SERVER_ONLY: 'secret' },
    cwd: ws.dir,
  });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);
  const opts = { env: ws.env, cwd: ws.dir };

  t.test('NAME= PATH=: the client values reach the command', async (t) => {
    const r = await run(stub('printvar'), [], {
      ...opts,
      env: { ...ws.env, NAME: 'from-client', PATH: `/client/path:${process.env.PATH}` },
    });
    t.equal(r.code, 0);
    t.equal(r.out, `from-client\n/client/path:${process.env.PATH}\n`);
  });

  t.test('=PATH=: inherits the server PATH, writes to stderr, exit 1', async (t) => {
    const r = await run(stub('inherit'), ['arg'], {
      ...opts,
      env: { ...ws.env, PATH: `/client/only:${process.env.PATH}` },
    });
    t.equal(r.code, 1);
    t.equal(r.err, 'value, arg\n');
    t.equal(r.out, '/usr/local/bin:/usr/bin:/bin\n');
  });

  t.test('?PATH=: copies stdin to stdout, exit 2', async (t) => {
    const r = await run(stub('optional'), [], { ...opts, input: 'line one\nline two\n' });
    t.equal(r.code, 2);
    t.equal(r.out, 'line one\nline two\n');
  });

  t.test('a command that closes its stdio and exits 3', async (t) => {
    const r = await run(stub('closer'), [], { ...opts, input: 'ignored' });
    t.equal(r.code, 3);
    t.equal(r.out, '');
    t.equal(r.err, '');
  });

  t.test('arguments with spaces, empty and option-like ones pass untouched', async (t) => {
    const r = await run(stub('args'), ['a b', '', '--help', '-c', 'x=y', "it's"], opts);
    t.equal(r.code, 0);
    t.equal(r.out, "[a b][][--help][-c][x=y][it's]");
    const front = await run(join(ws.bin, '..', 'bin', 'args'), ['--config', 'nope'], opts);
    t.equal(front.out, '[--config][nope]', 'a stub never parses options');
  });

  t.test('the command environment is exactly its specs', async (t) => {
    const r = await run(stub('onlyfoo'), [], { ...opts, env: { ...ws.env, FOO: 'bar', OTHER: 'no' } });
    t.equal(r.code, 0);
    t.equal(r.out, 'FOO=bar\n');
    const unset = await run(stub('onlyfoo'), [], { ...opts, env: { ...ws.env, FOO: undefined } });
    t.equal(unset.out, 'FOO=\n', 'a required variable the client lacks gets its (empty) default');
  });

  t.test('exit codes pass through', async (t) => {
    const r = await run(stub('false'), [], opts);
    t.equal(r.code, 1);
  });

  t.test('32 MiB of binary data through stdin→stdout and stderr, byte-exact', async (t) => {
    const data = randomBytes(32 << 20);
    const out = await run(stub('cat'), [], { ...opts, input: data, timeoutMs: 60000 });
    t.equal(out.code, 0);
    t.equal(out.stdout.length, data.length);
    t.equal(sha(out.stdout), sha(data));
    const err = await run(stub('errcat'), [], { ...opts, input: data, timeoutMs: 60000 });
    t.equal(err.code, 0);
    t.equal(err.stdout.length, 0);
    t.equal(sha(err.stderr), sha(data));
  });

  t.test('50 concurrent sessions each get their own output', async (t) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        run(stub('args'), [`session-${i}`], { ...opts, timeoutMs: 60000 }),
      ),
    );
    results.forEach((r, i) => {
      t.equal(r.code, 0);
      t.equal(r.out, `[session-${i}]`);
    });
  });

  t.test('the working directory is the same place relative to the base', async (t) => {
    const sub = join(ws.dir, 'sub', 'dir');
    mkdirSync(sub, { recursive: true });
    const r = await run(stub('pwd'), [], { ...opts, cwd: sub });
    t.equal(r.code, 0);
    t.equal(r.out.trim(), realpathSync(sub));
  });

  t.test('outside the base directory: a clear error', async (t) => {
    const r = await run(stub('pwd'), [], { ...opts, cwd: '/' });
    t.equal(r.code, 1);
    t.equal(r.err, `k8psh: the current directory / is outside the base directory ${realpathSync(ws.dir)}\n`);
  });

  t.test('an unknown command: 127 with the config file named', async (t) => {
    const r = await run(BIN, ['no-such', 'arg'], opts);
    t.equal(r.code, 127);
    t.equal(r.err, `k8psh: no-such: command not found in ${ws.config}\n`);
  });
});

t.test('two base directories: the path is mapped between them', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const client = await makeWorkspace(`baseDirectory = ws\n[ srv:${port} ]\npwd\n`);
  const serverSide = await makeWorkspace(`baseDirectory = other/ws\n[ srv:${port} ]\npwd\n`, {
    stubs: false,
  });
  mkdirSync(join(client.dir, 'ws/a/b'), { recursive: true });
  mkdirSync(join(serverSide.dir, 'other/ws/a/b'), { recursive: true });
  const server = await startServer(['--name', 'srv'], port, { env: serverSide.env, cwd: serverSide.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(client.dir, serverSide.dir);
  });
  const r = await run(join(client.bin, 'pwd'), [], { env: client.env, cwd: join(client.dir, 'ws/a/b') });
  t.equal(r.code, 0);
  t.equal(r.out.trim(), realpathSync(join(serverSide.dir, 'other/ws/a/b')));
});

t.test(
  'connecting: retries until the server is up; fails after connectTimeoutMs',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(`connectTimeoutMs = 10000\n[ srv:${port} ]\necho\n`);
    t.teardown(() => cleanup(ws.dir));
    const early = run(join(ws.bin, 'echo'), ['late', 'server'], { env: ws.env, cwd: ws.dir });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    const r = await early;
    await server.stop();
    t.equal(r.code, 0);
    t.equal(r.out, 'late server\n');

    const short = await makeWorkspace(`connectTimeoutMs = 300\n[ srv:${port} ]\necho\n`);
    t.teardown(() => cleanup(short.dir));
    const started = Date.now();
    const failed = await run(join(short.bin, 'echo'), ['x'], { env: short.env, cwd: short.dir });
    t.equal(failed.code, 255);
    t.match(
      failed.err,
      new RegExp(
        `^k8psh: cannot connect to server srv at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) after 300 ms\\n$`,
      ),
    );
    t.ok(Date.now() - started >= 300, 'it kept trying until the deadline');
  },
);

t.test('--max-connections given on the section line', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ] --max-connections=2\ntrue\n`);
  t.teardown(() => cleanup(ws.dir));
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir, test: t });
  t.equal((await run(join(ws.bin, 'true'), [], { env: ws.env, cwd: ws.dir })).code, 0);
  t.equal((await run(join(ws.bin, 'true'), [], { env: ws.env, cwd: ws.dir })).code, 0);
  t.equal(
    await server.exitedWithin(5000, 'after --max-connections 2 and two sessions'),
    0,
    'the server exits by itself after two connections',
  );
});

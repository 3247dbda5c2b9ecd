/** Errors as a shell reports them (docs/session.md): one plain line, exit 127/126/1, for new and old clients. */
import { mkdirSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
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
  writeFile,
} from './harness.js';

t.test('error cases', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`
connectTimeoutMs = 3000
[ srv:${port} ]
missing /nonexistent/bin/tool
notexec ./data.txt
relative ./script.sh
gone /bin/true
`);
  writeFile(join(ws.dir, 'data.txt'), 'not a program\n', 0o644);
  writeFile(join(ws.dir, 'script.sh'), '#!/bin/sh\necho "script in $(pwd)"\n', 0o755);
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const opts = { env: ws.env, cwd: ws.dir };

  t.test('executable not found on the server: 127', async (t) => {
    const r = await run(join(ws.bin, 'missing'), [], opts);
    t.equal(r.code, 127);
    t.equal(r.err, 'k8psh: /nonexistent/bin/tool: command not found\n');
  });

  t.test('found but not executable: 126', async (t) => {
    const r = await run(join(ws.bin, 'notexec'), [], opts);
    t.equal(r.code, 126);
    t.equal(r.err, 'k8psh: ./data.txt: Permission denied\n');
  });

  t.test('an executable relative to the working directory', async (t) => {
    const r = await run(join(ws.bin, 'relative'), [], opts);
    t.equal(r.code, 0);
    t.match(r.out, /^script in \//);
  });

  t.test('working directory missing on the server: 1', async (t) => {
    const port2 = await freePort();
    const text = `[ srv2:${port2} ]\ngone /bin/true\n`;
    const client = await makeWorkspace(text);
    const serverSide = await makeWorkspace(text, { stubs: false });
    mkdirSync(join(client.dir, 'only-on-the-client'));
    const server2 = await startServer(['--name', 'srv2'], port2, {
      env: serverSide.env,
      cwd: serverSide.dir,
    });
    t.teardown(async () => {
      await server2.stop();
      cleanup(client.dir, serverSide.dir);
    });
    const r = await run(join(client.bin, 'gone'), [], {
      env: client.env,
      cwd: join(client.dir, 'only-on-the-client'),
    });
    t.equal(r.code, 1);
    t.equal(r.err, `k8psh: working directory ${join(serverSide.dir, 'only-on-the-client')} does not exist\n`);
  });

  t.test('unknown command on the client: 127, naming the config file', async (t) => {
    const r = await run(BIN, ['nope'], opts);
    t.equal(r.code, 127);
    t.equal(r.err, `k8psh: nope: command not found in ${ws.config}\n`);
  });

  t.test('missing or unreadable config: 1, naming the file', async (t) => {
    const r = await run(BIN, ['x'], { ...opts, env: { ...ws.env, K8PSH_CONFIG: '/nonexistent/k8psh.conf' } });
    t.equal(r.code, 1);
    t.match(r.err, /^k8psh: .*\/nonexistent\/k8psh\.conf.*\n$/);
    const dir = join(ws.dir, 'a-directory.conf');
    mkdirSync(dir);
    const d = await run(BIN, ['x'], { ...opts, env: { ...ws.env, K8PSH_CONFIG: dir } });
    t.equal(d.code, 1);
    t.match(d.err, /a-directory\.conf/);
  });

  t.test('malformed config: 1, file:line:column', async (t) => {
    const bad = writeFile(join(ws.dir, 'bad.conf'), 'baseDirectory = "unterminated\n');
    const r = await run(BIN, ['x'], { ...opts, env: { ...ws.env, K8PSH_CONFIG: bad } });
    t.equal(r.code, 1);
    t.match(r.err, /^k8psh: .*bad\.conf:1:\d+: .*\n$/);
  });

  t.test('a client in a directory outside the base: 1', async (t) => {
    const r = await run(join(ws.bin, 'gone'), [], { ...opts, cwd: '/tmp' });
    t.equal(r.code, 1);
    t.equal(
      r.err,
      `k8psh: the current directory /tmp is outside the base directory ${realpathSync(ws.dir)}\n`,
    );
  });

  t.test('a protocol version the server does not speak: a clear message both ways', async (t) => {
    const hello = Buffer.alloc(15);
    hello[0] = 0x40;
    hello.writeUInt32LE(10, 1);
    hello.writeUInt32LE(0x3270386b, 5);
    hello.writeUInt16LE(0, 9);
    hello.writeUInt32LE(7, 11);
    const socket = connect({ host: '127.0.0.1', port });
    socket.write(hello);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve) => socket.on('close', resolve));
    const data = Buffer.concat(chunks);
    t.equal(data[0], 0x41, 'an ERROR frame');
    const length = data.readUInt32LE(1);
    t.match(data.toString('utf8', 5, 5 + length), /protocol version 0/);
    t.equal(data[5 + length], 8, 'then EXIT_CODE');
    t.equal(data.readInt32LE(6 + length), 1);
    t.match(server.stderr(), /protocol version 0/, 'the server logs it too');
  });
});

t.test('k8psh --health: an exec probe', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ] --max-connections=1\ntrue\n`);
  t.teardown(() => cleanup(ws.dir));
  const down = await run(BIN, ['--health', '--name', 'srv'], { env: ws.env });
  t.equal(down.code, 1);
  t.match(down.err, /^k8psh: cannot connect to server srv at 127\.0\.0\.1:\d+/);
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir, test: t });
  const up = await run(BIN, ['--health'], { env: { ...ws.env, K8PSH_NAME: 'srv' } });
  t.equal(up.code, 0, up.err);
  t.match(up.out, /^ok: server srv/);
  const again = await run(BIN, ['--health', '-n', 'srv'], { env: ws.env });
  t.equal(again.code, 0, 'probes do not count toward --max-connections');
  const unknown = await run(BIN, ['--health', '-n', 'nobody'], { env: ws.env });
  t.equal(unknown.code, 1);
  t.match(unknown.err, /server nobody has no commands/);
  t.equal((await run(join(ws.bin, 'true'), [], { env: ws.env, cwd: ws.dir })).code, 0);
  t.equal(
    await server.exitedWithin(5000, 'after --max-connections 1 and one session'),
    0,
    'the one real session ends the server',
  );
});

/** Signals (docs/session.md, "Signals and endings"): forwarded to the remote process group; a remote death by signal is ours too. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import {
  cleanup,
  freePort,
  makeWorkspace,
  pidsMatching,
  SKIP_UNBUILT,
  sleep,
  startServer,
} from './harness.js';
import { signalled } from './signalled.js';

t.test('signal forwarding and exit by signal', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`
[ srv:${port} ]
trapint /bin/sh -c 'trap "echo got; exit 5" INT; echo ready; while :; do sleep 0.05; done'
trapusr1 /bin/sh -c 'trap "echo usr1" USR1; echo ready; i=0; while [ $i -lt 30 ]; do sleep 0.05; i=$((i+1)); done; exit 0'
sleeper /bin/sh -c 'echo ready; exec sleep 30.4242'
suicide /bin/sh -c 'echo ready; kill -9 $$'
selfterm /bin/sh -c 'echo ready; kill -TERM $$'
`);
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);

  t.test('SIGINT reaches a remote trap: it prints and exits 5', async (t) => {
    const r = await signalled(stub('trapint'), ws.env, ws.dir, 'SIGINT');
    t.equal(r.code, 5);
    t.equal(r.out, 'ready\ngot\n');
  });

  t.test('SIGUSR1 handled remotely: the session goes on to exit 0', async (t) => {
    const r = await signalled(stub('trapusr1'), ws.env, ws.dir, 'SIGUSR1');
    t.equal(r.code, 0);
    t.equal(r.signal, null);
    t.match(r.out, /usr1/);
  });

  t.test('SIGTERM to a client running a remote sleep: it dies by SIGTERM, no sleep left', async (t) => {
    const r = await signalled(stub('sleeper'), ws.env, ws.dir, 'SIGTERM');
    t.equal(r.signal, 'SIGTERM', 'status 143 in a shell');
    await sleep(300);
    t.same(await pidsMatching('sleep 30.4242'), [], 'the remote sleep is gone');
  });

  t.test('remote kill -9 $$: the client dies by SIGKILL, nothing about a crash', async (t) => {
    const r = await signalled(stub('suicide'), ws.env, ws.dir, null);
    t.equal(r.signal, 'SIGKILL', 'status 137 in a shell');
    t.equal(r.err, '');
  });

  t.test('a shell sees 128+N', async (t) => {
    const child = spawn('/bin/sh', ['-c', `"${stub('selfterm')}"; echo "status $?"`], {
      env: ws.env,
      cwd: ws.dir,
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    t.match(out, /status 143/);
  });

  t.test('a SIGKILLed client: the remote process group is gone within 3 s', async (t) => {
    const child = spawn(stub('sleeper'), [], {
      env: ws.env,
      cwd: ws.dir,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    t.not((await pidsMatching('sleep 30.4242')).length, 0, 'the remote sleep runs');
    child.kill('SIGKILL');
    const deadline = Date.now() + 3000;
    while ((await pidsMatching('sleep 30.4242')).length > 0 && Date.now() < deadline) await sleep(50);
    t.same(await pidsMatching('sleep 30.4242'), []);
  });
});

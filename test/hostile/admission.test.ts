/**
 * Attacks on admission (issue 21): --max-sessions counted apart for the two listeners (item 7: 20
 * idle connections on the local socket plus 19 on TCP held 59 descriptors, and a 40th connection
 * still ran), and descriptor exhaustion under `ulimit -n 64` (ten stalled descriptor-passing
 * connections made legitimate stubs exit 255, "connection lost", though nothing ran). One budget for
 * both listeners; at the descriptor limit new connections are refused in words, accepted ones go on.
 */
import { openSync, closeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { syscalls, syscallsFailure } from '../../src/native/syscalls.js';
import { localSocketPath } from '../../src/protocol/constants.js';
import { cleanup, freePort, run, sleep } from '../e2e/harness.js';
import { DAEMON, eventually, fdCount, hello, makeWorkspace, SKIP_UNBUILT, startServer } from './harness.js';

const native = syscalls();

/** A connection that says nothing: on TCP, or on the local socket. */
function idle(port: number, local: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = local
      ? connect({ path: localSocketPath(port), allowHalfOpen: true })
      : connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

t.test(
  '--max-sessions is one budget for the local socket and TCP together',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const cap = 20;
    const ws = await makeWorkspace(`[ srv:${port} ]\nok /bin/echo ok\n`);
    const server = await startServer(
      ['--name', 'srv', '--request-timeout', '20000', '--max-sessions', String(cap)],
      port,
      { env: ws.env, cwd: ws.dir },
    );
    const held: Socket[] = [];
    t.teardown(async () => {
      for (const socket of held) socket.destroy();
      await server.stop();
      cleanup(ws.dir);
    });
    const ok = (env: NodeJS.ProcessEnv = {}) =>
      run(join(ws.bin, 'ok'), [], { env: { ...ws.env, ...env }, cwd: ws.dir });
    const baseline = fdCount(server.process.pid!);
    for (let i = 0; i < cap / 2; i++) held.push(await idle(port, true));
    for (let i = 0; i < cap / 2 - 1; i++) held.push(await idle(port, false));
    await sleep(200);
    t.equal((await ok({ K8PSH_DIRECT_STDIO: '0' })).out, 'ok\n', 'one place left: a relayed session runs');
    held.push(await idle(port, false));
    await sleep(200);
    for (const [how, env] of [
      ['over TCP', { K8PSH_DIRECT_STDIO: '0' }],
      ['on the local socket', {}],
    ] as const) {
      const busy = await ok(env);
      t.same(
        { code: busy.code, err: busy.err },
        { code: 1, err: `k8psh: server srv is busy (${cap} sessions)\n` },
        `the next one ${how} is refused`,
      );
    }
    t.ok(
      fdCount(server.process.pid!) <= baseline + 2 * cap + 4,
      'at most two descriptors per connection held (a waiting local one is watched through a duplicate)',
    );
    for (const socket of held.splice(0)) socket.destroy();
    t.ok(await eventually(async () => (await ok()).out === 'ok\n', 5000), 'room again once they are gone');
  },
);

t.test(
  'out of descriptors (ulimit -n 64): stalled descriptor-passing connections cannot break a legitimate stub',
  { skip: SKIP_UNBUILT || (native ? false : `no addon: ${syscallsFailure()}`) },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(
      `[ srv:${port} ]\nok /bin/echo ok\nslow /bin/sh -c 'sleep 1; echo slow'\n`,
    );
    const server = await startServer(
      ['-c', `ulimit -n 64 && exec "$0" "$@"`, DAEMON, '--name', 'srv', '--request-timeout', '20000'],
      port,
      { env: ws.env, cwd: ws.dir },
      '/bin/sh',
    );
    const stalled: number[] = [];
    t.teardown(async () => {
      for (const fd of stalled) closeSync(fd);
      await server.stop();
      cleanup(ws.dir);
    });
    // A session accepted before the flood must run to its end.
    const running = run(join(ws.bin, 'slow'), [], { env: ws.env, cwd: ws.dir });
    await sleep(300);
    // Ten connections that pass three descriptors with half a HELLO, then say nothing.
    const devNull = openSync('/dev/null', 'r');
    for (let i = 0; i < 10; i++) {
      const fd = native!.connect(localSocketPath(port));
      native!.send(fd, hello().subarray(0, 5), [devNull, devNull, devNull]);
      stalled.push(fd);
    }
    closeSync(devNull);
    await sleep(300);
    for (const [how, env] of [
      ['native stub', {}],
      ['TypeScript client', { K8PSH_NATIVE: '0' }],
      ['relayed', { K8PSH_DIRECT_STDIO: '0' }],
    ] as const) {
      const r = await run(join(ws.bin, 'ok'), [], { env: { ...ws.env, ...env }, cwd: ws.dir });
      t.match(
        { code: r.code, err: r.err },
        {
          code: 1,
          err: /^k8psh: server srv is out of file descriptors \(its limit is 64\): try again later\n$/,
        },
        `${how}: refused in words, exit 1 (${r.code}: ${r.err.trim()})`,
      );
    }
    const slow = await running;
    t.same(
      { code: slow.code, out: slow.out },
      { code: 0, out: 'slow\n' },
      'the session accepted before ran to its end',
    );
    for (const fd of stalled.splice(0)) closeSync(fd);
    t.ok(
      await eventually(
        async () => (await run(join(ws.bin, 'ok'), [], { env: ws.env, cwd: ws.dir })).out === 'ok\n',
        5000,
      ),
      'served again once they are gone',
    );
    t.equal(server.process.exitCode, null, 'the server is still running');
  },
);

/**
 * The caller's environment through the front (src/runtime/caller-env.ts, native/front/stash.c):
 * restore() undoes the stash exactly, and through the real executable a command's specs get the
 * client's NODE_OPTIONS, UV_THREADPOOL_SIZE... (and the server's, for `=NAME=`) while none of them
 * touches k8psh itself (a NODE_OPTIONS that would kill Node, a --require that would run code).
 */
import t from 'tap';
import { join } from 'node:path';
import { restore } from '../../src/runtime/caller-env.js';
import {
  SKIP_UNBUILT,
  BIN,
  cleanup,
  freePort,
  makeWorkspace,
  run,
  startServer,
  writeFile,
} from '../e2e/harness.js';

t.test(
  'restore() gives back the names the front stashed, without K8PSH_SELF and K8PSH_STUB_CACHE',
  async (t) => {
    t.same(
      restore({
        K8PSH_SELF: '/k8psh/bin/k8pshd',
        K8PSH_STASH_NODE_OPTIONS: '--require x',
        K8PSH_STASH_K8PSH_STASH_A: 'b',
        K8PSH_STASH_K8PSH_SELF: 'the caller had one',
        K8PSH_STUB_CACHE: '/c/native-id-0123456789abcdef',
        PATH: '/bin',
      }),
      {
        NODE_OPTIONS: '--require x',
        K8PSH_STASH_A: 'b',
        K8PSH_SELF: 'the caller had one',
        PATH: '/bin',
      },
    );
  },
);

t.test(
  "through the executable: specs get the caller's values, k8psh obeys none",
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const config = `[ envsrv:${port} ]
printenv ?NODE_OPTIONS= ?UV_THREADPOOL_SIZE= ?K8PSH_STASH_X= ?K8PSH_SELF= =NODE_DEBUG= ?LD_BIND_NOW= /usr/bin/env
`;
    const ws = await makeWorkspace(config);
    t.teardown(() => cleanup(ws.dir));
    const trap = writeFile(join(ws.dir, 'trap.cjs'), "process.stdout.write('FOREIGN CODE RAN\\n');\n");
    const hostile = {
      NODE_OPTIONS: `--require ${trap}`,
      NODE_DEBUG: 'net,child_process,module',
      UV_THREADPOOL_SIZE: '1',
      LD_BIND_NOW: '1',
    };
    const server = await startServer(['--name', 'envsrv'], port, {
      cwd: ws.dir,
      env: { ...ws.env, ...hostile, NODE_OPTIONS: '--max-old-space-size=1', NODE_DEBUG: 'net' },
    });
    t.teardown(() => server.stop());
    const result = await run(join(ws.bin, 'printenv'), [], {
      cwd: ws.dir,
      env: { ...ws.env, ...hostile, K8PSH_STASH_X: 'y', K8PSH_SELF: 'mine' },
    });
    t.equal(result.code, 0, result.err);
    t.equal(result.err, '', 'no debug output of Node, no warning');
    const lines = result.out.split('\n').filter(Boolean).sort();
    // tap appends its own --import to the NODE_OPTIONS of the processes it starts: ours comes first.
    t.match(
      lines.find((l) => l.startsWith('NODE_OPTIONS=')),
      trap,
      "the client's NODE_OPTIONS",
    );
    t.same(
      lines.filter((l) => !l.startsWith('NODE_OPTIONS=')),
      [
        'K8PSH_SELF=mine',
        'K8PSH_STASH_X=y',
        'LD_BIND_NOW=1',
        'NODE_DEBUG=net', // =NAME= is the server's own value
        'UV_THREADPOOL_SIZE=1',
      ],
    );
    const front = await run(BIN, ['--version'], { env: { ...ws.env, ...hostile } });
    t.equal(front.code, 0, front.err);
    t.match(front.out, /^k8psh \S+/);
    t.notMatch(front.out, /FOREIGN/);
    t.equal(front.err, '');
    await server.stop();
    t.notMatch(server.stderr(), /FOREIGN|NET \d+:|CHILD_PROCESS \d+:/, 'the server obeyed none either');
  },
);

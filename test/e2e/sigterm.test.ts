/**
 * SIGTERM reaches the remote command on every path (issue 21, "Tests that could not tell"): the
 * native stub, the TypeScript client and the relayed one. The remote command traps TERM, says so
 * and exits 7: only a forwarded SIGTERM gives that status. A stub that does not forward it dies by
 * SIGTERM itself, and the server's hang-up clean-up then sends the group a SIGTERM of its own, so
 * the trap still runs — but its exit status is lost, and so is its line on the relayed path.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanup, freePort, makeWorkspace, run, SKIP_UNBUILT, startServer } from './harness.js';
import { nativeBuilt, NOT_NATIVE_STATUS } from '../lib/ways.js';
import { signalled } from './signalled.js';

t.test('SIGTERM reaches a remote trap on every path: its line, exit 7', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`
[ srv:${port} ]
trapterm /bin/sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done'
true
`);
  t.teardown(() => cleanup(ws.dir));
  // A private cache directory (0700, ours): the table the native path needs is written there.
  const cache = join(ws.dir, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  const env: NodeJS.ProcessEnv = { ...ws.env, K8PSH_CACHE_DIR: cache };
  delete env.K8PSH_NATIVE;
  delete env.K8PSH_DIRECT_STDIO;
  const server = await startServer(['--name', 'srv'], port, { env, cwd: ws.dir, test: t });
  t.teardown(() => server.stop());
  const stub = join(ws.bin, 'trapterm');

  const paths: { name: string; env: NodeJS.ProcessEnv }[] = [
    // K8PSH_NATIVE=1: the native stub runs the session itself or refuses (125); it never hands over.
    { name: 'the native stub', env: { ...env, K8PSH_NATIVE: '1' } },
    { name: 'the TypeScript client (K8PSH_NATIVE=0)', env: { ...env, K8PSH_NATIVE: '0' } },
    { name: 'relayed over TCP (K8PSH_DIRECT_STDIO=0)', env: { ...env, K8PSH_DIRECT_STDIO: '0' } },
  ];
  t.ok(await nativeBuilt(), 'dist/k8psh has the native stub');
  // The first call of a stub writes the compiled table; the native stub uses it from then on.
  const first = await run(join(ws.bin, 'true'), [], { env, cwd: ws.dir, timeoutMs: 15000 });
  t.equal(first.code, 0, `a first call writes the table: ${first.err}`);

  for (const path of paths)
    t.test(path.name, async (t) => {
      const r = await signalled(stub, path.env, ws.dir, 'SIGTERM');
      t.not(r.code, NOT_NATIVE_STATUS, `ran on this path: ${r.err}`);
      t.same(
        { code: r.code, signal: r.signal, out: r.out },
        { code: 7, signal: null, out: 'ready\ngot TERM\n' },
        "the trap ran and its exit status 7 is the stub's",
      );
      // The group's sleep dies by the same SIGTERM: sh may note that of its foreground job.
      t.match(r.err, /^(Terminated\n)?$/, 'nothing else on stderr');
    });
});

/**
 * The optional spec `?NAME=default` end to end (README, "Configuration"): the client's value when
 * the client has NAME set (also when empty), else the default, else — an empty default — the
 * server's own value; unset everywhere stays unset. Through real stubs on every path: the native
 * stub, the TypeScript client and the relayed one. The remote command is `env`: a command's
 * environment is exactly its specs, so its output is the whole answer.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanup, freePort, makeWorkspace, run, SKIP_UNBUILT, startServer } from './harness.js';
import { nativeBuilt, NOT_NATIVE_STATUS } from '../lib/ways.js';

const NAMES = ['A', 'B', 'C'] as const;
type Values = Partial<Record<(typeof NAMES)[number], string>>;

/** The client's variables and the command's whole environment they must give (sorted lines). */
const CASES: { name: string; client: Values; command: string[] }[] = [
  {
    name: 'client sets A: its value; B unset: the server value; C unset there too: unset',
    client: { A: 'client-a' },
    command: ['A=client-a', 'B=server-b'],
  },
  {
    name: 'client unsets A: the default; sets B: its value, not the server value; sets C empty: empty',
    client: { B: 'client-b', C: '' },
    command: ['A=dflt', 'B=client-b', 'C='],
  },
  {
    name: 'client sets none: the default, the server value, unset',
    client: {},
    command: ['A=dflt', 'B=server-b'],
  },
  {
    name: 'client sets A empty: empty, not the default',
    client: { A: '' },
    command: ['A=', 'B=server-b'],
  },
];

t.test(
  '?NAME= specs take the client value, else the default, else the server value',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(`[ srv:${port} ]\nshow ?A=dflt ?B= ?C= /usr/bin/env\ntrue\n`);
    t.teardown(() => cleanup(ws.dir));
    const cache = join(ws.dir, 'cache');
    mkdirSync(cache, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = { ...ws.env, K8PSH_CACHE_DIR: cache };
    for (const name of [...NAMES, 'K8PSH_NATIVE', 'K8PSH_DIRECT_STDIO']) delete env[name];
    // The server has its own B (and neither A nor C).
    const server = await startServer(['--name', 'srv'], port, {
      env: { ...env, B: 'server-b' },
      cwd: ws.dir,
      test: t,
    });
    t.teardown(() => server.stop());

    t.ok(await nativeBuilt(), 'dist/k8psh has the native stub');
    // The first call of a stub writes the compiled table; the native stub uses it from then on.
    const first = await run(join(ws.bin, 'true'), [], { env, cwd: ws.dir, timeoutMs: 15000 });
    t.equal(first.code, 0, `a first call writes the table: ${first.err}`);

    const paths: { name: string; env: NodeJS.ProcessEnv }[] = [
      // K8PSH_NATIVE=1: the native stub runs the session itself or refuses (125); it never hands over.
      { name: 'the native stub', env: { ...env, K8PSH_NATIVE: '1' } },
      { name: 'the TypeScript client (K8PSH_NATIVE=0)', env: { ...env, K8PSH_NATIVE: '0' } },
      { name: 'relayed over TCP (K8PSH_DIRECT_STDIO=0)', env: { ...env, K8PSH_DIRECT_STDIO: '0' } },
    ];
    for (const path of paths)
      t.test(path.name, async (t) => {
        for (const c of CASES) {
          const r = await run(join(ws.bin, 'show'), [], {
            env: { ...path.env, ...c.client },
            cwd: ws.dir,
            timeoutMs: 15000,
          });
          t.not(r.code, NOT_NATIVE_STATUS, `ran on this path: ${r.err}`);
          t.same(
            { code: r.code, err: r.err, command: r.out.split('\n').filter(Boolean).sort() },
            { code: 0, err: '', command: c.command },
            c.name,
          );
        }
      });
  },
);

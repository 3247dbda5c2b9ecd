/**
 * The compiled table written by real stubs (dist/k8psh, a real server, real files): what
 * K8PSH_STUB_CACHE asks for (docs/native-stubs.md, "Writing it"). 200 concurrent writers leave one
 * valid table and no temporary file; a read-only or full directory changes nothing of the call
 * and leaves nothing behind; the variable never reaches a command nor a configuration.
 *
 * The table goes where the front would put it (K8PSH_CACHE_DIR, named after the key), so these
 * hold whether the front passes the caller's K8PSH_STUB_CACHE on or sets its own.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { decodeStubTable, tableFileName } from '../lib/stub-table.mjs';
import {
  ROOT,
  SKIP_UNBUILT,
  built,
  cleanup,
  freePort,
  makeWorkspace,
  run,
  startServer,
  type Workspace,
} from './harness.js';

const isRoot = process.getuid?.() === 0;
const buildId = built
  ? (readdirSync(join(ROOT, 'dist'))
      .find((name) => name.startsWith('.k8psh-runtime-'))
      ?.slice('.k8psh-runtime-'.length) ?? '')
  : '';

interface Setup {
  ws: Workspace;
  cache: string;
  table: string;
  env: NodeJS.ProcessEnv;
}

/** A workspace whose server runs `config` (PORT substituted), and a private cache directory. */
async function setup(t: Test, config: (port: number) => string, mount?: string): Promise<Setup> {
  const port = await freePort();
  const ws = await makeWorkspace(config(port));
  t.teardown(() => cleanup(ws.dir));
  const cache = join(ws.dir, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  if (mount !== undefined) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `${mount},mode=0700`, 'tmpfs', cache]);
    t.teardown(() => execFileSync('umount', ['-l', cache]));
  }
  const server = await startServer(['--name', 'srv'], port, {
    cwd: ws.dir,
    env: { ...ws.env, K8PSH_STUB_CACHE: join(cache, 'native-server-0000000000000000') },
  });
  t.teardown(() => server.stop());
  const table = join(cache, tableFileName(buildId, ws.config));
  const env: NodeJS.ProcessEnv = { ...ws.env, K8PSH_CACHE_DIR: cache, K8PSH_STUB_CACHE: table };
  delete env.K8PSH_NATIVE;
  return { ws, cache, table, env };
}

t.test('K8PSH_STUB_CACHE reaches no command and no configuration', { skip: SKIP_UNBUILT }, async (t) => {
  const { ws, table, env } = await setup(
    t,
    (port) =>
      `[ srv:${port} ] ?K8PSH_STUB_CACHE=\nprintenv K8PSH_STUB_CACHE_SEEN=\${K8PSH_STUB_CACHE:-unset} /usr/bin/env\n`,
  );
  const result = await run(join(ws.bin, 'printenv'), [], { env, cwd: ws.dir });
  t.equal(result.code, 0, result.err);
  t.same(result.out.split('\n').sort(), ['', 'K8PSH_STUB_CACHE_SEEN=unset']);
  const decoded = decodeStubTable(readFileSync(table));
  t.same(
    decoded.variables,
    [
      ['K8PSH_CONFIG', ws.config],
      ['K8PSH_STUB_CACHE', undefined],
    ],
    'read at load time: the file chosen, then the substitution (as unset)',
  );
  t.same(decoded.commands[0]?.send, ['K8PSH_STUB_CACHE', 'K8PSH_STUB_CACHE_SEEN']);
});

t.test('200 concurrent writers leave one complete table', { skip: SKIP_UNBUILT }, async (t) => {
  const { ws, cache, table, env } = await setup(t, (port) => `[ srv:${port} ]\necho /bin/echo\n`);
  const calls = Array.from({ length: 200 }, (_, i) =>
    run(join(ws.bin, 'echo'), [String(i)], { env, cwd: ws.dir, timeoutMs: 120000 }),
  );
  const results = await Promise.all(calls);
  results.forEach((result, i) => {
    if (result.code !== 0 || result.out !== `${i}\n`)
      t.fail(`call ${i}: ${result.code} ${result.out} ${result.err}`);
  });
  t.same(readdirSync(cache), [tableFileName(buildId, ws.config)], 'no temporary file');
  const decoded = decodeStubTable(readFileSync(table));
  t.equal(decoded.buildId, buildId);
  t.equal(decoded.key, ws.config);
  t.equal(decoded.k8pshConfig, ws.config);
  t.same(decoded.content, readFileSync(ws.config));
  t.equal(decoded.baseDirectory, ws.dir);
  t.same(
    decoded.commands.map((c) => c.name),
    ['echo'],
  );
});

/** A call whose table cannot be written still runs exactly, and leaves nothing in `cache`. */
async function unwritable(
  t: Test,
  mount: string | undefined,
  prepare: (cache: string) => void,
): Promise<void> {
  // Padded so that the table (which holds the file) is larger than the 8 KiB filesystem.
  const padding = `# ${'padding '.repeat(2500)}\n`;
  const { ws, cache, env } = await setup(
    t,
    (port) => `${padding}[ srv:${port} ]\nfail /bin/sh -c "echo out; echo err >&2; exit 3"\n`,
    mount,
  );
  prepare(cache);
  const result = await run(join(ws.bin, 'fail'), [], { env, cwd: ws.dir });
  t.equal(result.code, 3);
  t.equal(result.out, 'out\n');
  t.equal(result.err, 'err\n');
  t.same(readdirSync(cache), [], 'nothing left behind');
}

t.test(
  'a read-only directory: the call is unchanged, nothing is written',
  { skip: SKIP_UNBUILT },
  async (t) => {
    if (isRoot) await unwritable(t, 'size=1m', (cache) => execFileSync('mount', ['-o', 'remount,ro', cache]));
    else await unwritable(t, undefined, (cache) => chmodSync(cache, 0o500));
  },
);

t.test(
  'a full disk: the call is unchanged, the temporary file is removed',
  { skip: SKIP_UNBUILT || (isRoot ? false : 'mounting a small tmpfs needs root') },
  async (t) => {
    await unwritable(t, 'size=8k', () => {});
  },
);

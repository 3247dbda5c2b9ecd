/** How long k8pshd lives: --max-connections and --timeout at their edges, on the real executable. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  alive,
  canConnect,
  cleanup,
  DAEMON,
  ROOT,
  tempDir,
  freePort,
  makeWorkspace,
  run,
  type RunOptions,
  SKIP_UNBUILT,
  sleep,
  startServer,
} from './harness.js';

async function workspace(t: Test, extra = ''): Promise<{ port: number; opts: RunOptions; dir: string }> {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ]${extra}\ntrue\n[ other:${port + 1} ]\nfalse\n`, {
    stubs: false,
  });
  t.teardown(() => cleanup(ws.dir));
  return { port, opts: { env: ws.env, cwd: ws.dir, timeoutMs: 10000 }, dir: ws.dir };
}

t.test('-m 0: creates the stubs, accepts nothing, exits 0', { skip: SKIP_UNBUILT }, async (t) => {
  const { port, opts, dir } = await workspace(t);
  const kept = await run(DAEMON, ['--name=srv', '-e', join(dir, 'kept'), '-k', '-m', '0'], opts);
  t.equal(kept.code, 0, kept.err);
  t.same(readdirSync(join(dir, 'kept')), ['false'], 'the stubs, kept with -k');
  t.notOk(await canConnect(port), 'nothing listens');
  const removed = await run(DAEMON, ['--name=srv', '-e', join(dir, 'gone'), '--max-connections=0'], opts);
  t.equal(removed.code, 0, removed.err);
  t.same(readdirSync(join(dir, 'gone')), [], 'removed on exit without -k, as the original does');
});

t.test(
  "-m 0 with the original's example configuration, as the issue ran it",
  { skip: SKIP_UNBUILT },
  async (t) => {
    const dir = tempDir();
    t.teardown(() => cleanup(dir));
    const config = join(ROOT, 'test/fixtures/original/k8psh_example.conf');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.WORKSPACE;
    const args = [`--config=${config}`, '--name=java', '-e', join(dir, 'bin'), '-k', '-m', '0'];
    const r = await run(DAEMON, args, { env, cwd: dir, timeoutMs: 10000 });
    t.equal(r.code, 0, r.err);
    t.same(readdirSync(join(dir, 'bin')).sort(), ['g++', 'gcc', 'gradle', 'javac', 'make']);
  },
);

t.test('-m 0 on the section line, -b -m 0: the same', { skip: SKIP_UNBUILT }, async (t) => {
  const { opts, dir } = await workspace(t, ' --max-connections=0 -k');
  const r = await run(DAEMON, ['--name=srv', '-e', join(dir, 'bin')], opts);
  t.equal(r.code, 0, r.err);
  t.same(readdirSync(join(dir, 'bin')), ['false']);
  const pidfile = join(dir, 'd.pid');
  const b = await run(DAEMON, ['--name=srv', '-e', join(dir, 'bin2'), '-b', '-p', pidfile], opts);
  t.equal(b.code, 0, b.err);
  t.same(readdirSync(join(dir, 'bin2')), ['false']);
  t.notOk(existsSync(pidfile), 'no daemon is left, nor its pidfile');
});

t.test('--timeout 0 exits at once; a negative timeout never', { skip: SKIP_UNBUILT }, async (t) => {
  const { port, opts, dir } = await workspace(t);
  const started = Date.now();
  const r = await run(DAEMON, ['--name=srv', '-e', join(dir, 'bin'), '--timeout', '0'], opts);
  t.equal(r.code, 0, r.err);
  t.ok(Date.now() - started < 5000, 'promptly');
  t.same(readdirSync(join(dir, 'bin')), [], 'and cleans up');
  const forever = await startServer(['--name=srv', '-e', join(dir, 'bin'), '-t', '-2'], port, opts);
  await sleep(300);
  t.ok(alive(forever.process.pid!), '-2 is "never", as -1');
  t.equal(await forever.stop(), 0);
});

t.test('a timeout past 2^31-1 ms is honoured, not fired at once', { skip: SKIP_UNBUILT }, async (t) => {
  // Node fires a setTimeout of more than 2^31-1 ms after 1 ms.
  const { port, opts, dir } = await workspace(t);
  const server = await startServer(['--name=srv', '-e', join(dir, 'bin'), '-t', '3000000000'], port, opts);
  await sleep(1000);
  t.ok(alive(server.process.pid!), 'still serving after a second');
  t.ok(await canConnect(port));
  t.equal(await server.stop(), 0);
});

t.test('bad values: one line, exit 1, nothing created', { skip: SKIP_UNBUILT }, async (t) => {
  const { dir, opts } = await workspace(t);
  const cases: Array<[string[], string]> = [
    [
      ['-m', '1.5'],
      '--max-connections must be an integer up to 9007199254740991 (negative: unlimited), not "1.5"',
    ],
    [['--timeout=abc'], '--timeout must be an integer up to 9007199254740991 (negative: never), not "abc"'],
    [['-t', '1e3'], '--timeout must be an integer up to 9007199254740991 (negative: never), not "1e3"'],
    [
      ['-m', '9007199254740992'],
      '--max-connections must be an integer up to 9007199254740991 (negative: unlimited), not "9007199254740992"',
    ],
    [['--max-sessions=0'], '--max-sessions must be an integer from 1 to 9007199254740991, not "0"'],
    [
      ['--request-timeout', '2147483648'],
      '--request-timeout must be an integer from 1 to 2147483647, not "2147483648"',
    ],
  ];
  for (const [args, message] of cases) {
    const r = await run(DAEMON, ['--name=srv', '-e', join(dir, 'bin'), ...args], opts);
    t.equal(r.code, 1, args.join(' '));
    t.equal(r.err, `k8pshd: ${message}\n`, args.join(' '));
  }
  t.notOk(existsSync(join(dir, 'bin')), 'no stub was made');
  const section = await workspace(t, ' --max-connections=many');
  const s = await run(DAEMON, ['--name=srv', '-e', join(section.dir, 'bin')], section.opts);
  t.equal(s.code, 1);
  t.equal(
    s.err,
    'k8pshd: --max-connections must be an integer up to 9007199254740991 (negative: unlimited), not "many"\n',
    'on the section line too',
  );
});

t.test('a port held by another k8pshd: exactly one line', { skip: SKIP_UNBUILT }, async (t) => {
  // The other server holds the local socket too: its name being taken is not worth a warning first.
  const { port, opts, dir } = await workspace(t);
  const first = await startServer(['--name=srv', '-e', join(dir, 'one')], port, opts);
  t.teardown(() => first.stop('SIGKILL'));
  const second = await run(DAEMON, ['--name=srv', '-e', join(dir, 'two'), '--log-format=json'], opts);
  t.equal(second.code, 1);
  t.equal(second.err, `k8pshd: port ${port} is already in use (server srv on 127.0.0.1:${port})\n`);
  t.equal(await first.stop(), 0);
});

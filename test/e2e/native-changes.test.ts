/**
 * Changes between two calls (issue 15, docs/native-stubs.md): after a first call has had the compiled
 * table written, the config, the variables it read, K8PSH_CONFIG, the working directory or the
 * servers change; the next call must give what the config now says, whichever way it runs. A stale
 * table must never be used: right after a change, a K8PSH_NATIVE=1 call either refuses
 * (`k8psh: not native: ...`, 125) or gives the new answer, never the old one.
 */
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import {
  BIN,
  cleanup,
  freePort,
  SKIP_UNBUILT,
  sleep,
  startServer,
  tempDir,
  writeFile,
  type Server,
} from './harness.js';
import { buildRecorder, RecordBox } from '../lib/recorder.js';
import { nativeBuilt, refused, runWay, wayEnv, type Outcome, type Way } from '../lib/ways.js';

const ok = (stdout: string): Outcome => ({ code: 0, signal: null, stdout, stderr: '' });

async function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)));
  });
}

/** Two free ports whose decimal forms differ only by two swapped digits (same config size). */
async function swappedPorts(): Promise<[number, number]> {
  for (;;) {
    const port = await freePort();
    const digits = String(port).split('');
    const [a, b] = [digits.at(-2)!, digits.at(-1)!];
    if (a === b) continue;
    const other = Number([...digits.slice(0, -2), b, a].join(''));
    if (other < 65536 && (await bindable(other))) return [port, other];
  }
}

t.test('changes between two calls', { skip: SKIP_UNBUILT }, async (t) => {
  const native = await nativeBuilt();
  t.comment(
    native
      ? 'native stub built in: K8PSH_NATIVE=1 proves it ran'
      : 'no native stub yet: K8PSH_NATIVE=1 = default',
  );
  const dir = realpathSync(tempDir('k8psh-changes-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const name of ['who', 'other', 'echoarg', 'big']) symlinkSync(BIN, join(bin, name));
  const servers: Server[] = [];
  t.teardown(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    cleanup(dir);
  });
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    K8PSH_CACHE_DIR: join(dir, 'cache'),
    K8PSH_TTY: '0',
  };

  /** A k8pshd named `host` on `port` whose own config says what its commands print. */
  async function serve(host: string, port: number, commands: string, base = dir): Promise<Server> {
    const config = writeFile(
      join(dir, `server-${host}-${port}.conf`),
      `baseDirectory = ${base}\n[ ${host}:${port} ]\n${commands}`,
    );
    const server = await startServer(['--name', host, '-c', config, '-d'], port, { env: baseEnv, cwd: dir });
    servers.push(server);
    return server;
  }

  /**
   * The call after a change: K8PSH_NATIVE=1 first (the table may be stale: refused or right, never
   * the old answer), then the default way (refreshes the table), then K8PSH_NATIVE=1 again (native,
   * unless `handOver`), then the TypeScript client forced. All but a refusal give `expected`.
   */
  async function afterChange(
    t: Test,
    label: string,
    stub: string,
    options: { env: NodeJS.ProcessEnv; cwd: string; args?: string[] },
    expected: Outcome,
    handOver = false,
  ): Promise<void> {
    const call = (way: Way): Promise<Outcome> => runWay(way, join(bin, stub), options.args ?? [], options);
    const stale = await call('native');
    if (!(native && refused(stale)))
      t.same(stale, expected, `${label}: K8PSH_NATIVE=1 right after: refused or right`);
    t.same(await call('first'), expected, `${label}: the default way`);
    const again = await call('native');
    if (native && handOver)
      t.ok(refused(again), `${label}: K8PSH_NATIVE=1 hands over: ${again.stderr.trim()}`);
    else {
      if (native)
        t.notOk(refused(again), `${label}: native once the table is written (${again.stderr.trim()})`);
      t.same(again, expected, `${label}: K8PSH_NATIVE=1`);
    }
    t.same(await call('ts'), expected, `${label}: the TypeScript client`);
  }

  t.test('config edited: same size, same second, same inode (two digits of the port swapped)', async (t) => {
    const [portA, portB] = await swappedPorts();
    await serve('s1', portA, 'who /bin/echo A\n');
    await serve('s1', portB, 'who /bin/echo B\n');
    const conf = writeFile(
      join(dir, 'edit', 'k8psh.conf'),
      `connectTimeoutMs = 1500\n[ s1:${portA} ]\nwho\n`,
    );
    const opts = { env: { ...baseEnv, K8PSH_CONFIG: conf }, cwd: dirname(conf) };
    await afterChange(t, 'before', 'who', opts, ok('A\n'));
    const before = statSync(conf);
    writeFileSync(conf, `connectTimeoutMs = 1500\n[ s1:${portB} ]\nwho\n`);
    utimesSync(conf, before.atime, before.mtime);
    const after = statSync(conf);
    t.same(
      [after.size, after.ino, Math.floor(after.mtimeMs / 1000)],
      [before.size, before.ino, Math.floor(before.mtimeMs / 1000)],
    );
    await afterChange(t, 'after the edit', 'who', opts, ok('B\n'));
  });

  t.test('a variable the config reads at load time: changed, unset', async (t) => {
    const [portA, portB] = [await freePort(), await freePort()];
    await serve('s1', portA, 'who /bin/echo A\n');
    await serve('s1', portB, 'who /bin/echo B\n');
    const conf = writeFile(
      join(dir, 'var', 'k8psh.conf'),
      `connectTimeoutMs = 1500\n[ s1:\${WHICH_PORT:-${portA}} ]\nwho\n`,
    );
    const env = { ...baseEnv, K8PSH_CONFIG: conf };
    await afterChange(t, 'unset', 'who', { env, cwd: dirname(conf) }, ok('A\n'));
    await afterChange(
      t,
      'set to B',
      'who',
      { env: { ...env, WHICH_PORT: String(portB) }, cwd: dirname(conf) },
      ok('B\n'),
    );
    await afterChange(
      t,
      'set to A',
      'who',
      { env: { ...env, WHICH_PORT: String(portA) }, cwd: dirname(conf) },
      ok('A\n'),
    );
    await afterChange(t, 'unset again', 'who', { env, cwd: dirname(conf) }, ok('A\n'));
  });

  t.test('K8PSH_CONFIG changed: another file, a relative path, unset (./k8psh.conf)', async (t) => {
    const [portA, portB] = [await freePort(), await freePort()];
    await serve('s1', portA, 'who /bin/echo A\n');
    await serve('s1', portB, 'who /bin/echo B\n');
    const d1 = join(dir, 'cfg1');
    const d2 = join(dir, 'cfg2');
    writeFile(
      join(d1, 'k8psh.conf'),
      `baseDirectory = ${dir}\nconnectTimeoutMs = 1500\n[ s1:${portA} ]\nwho\n`,
    );
    writeFile(
      join(d2, 'k8psh.conf'),
      `baseDirectory = ${dir}\nconnectTimeoutMs = 1500\n[ s1:${portB} ]\nwho\n`,
    );
    const with_ = (config: string | undefined): NodeJS.ProcessEnv =>
      config === undefined ? baseEnv : { ...baseEnv, K8PSH_CONFIG: config };
    await afterChange(t, 'file 1', 'who', { env: with_(join(d1, 'k8psh.conf')), cwd: d1 }, ok('A\n'));
    await afterChange(t, 'file 2', 'who', { env: with_(join(d2, 'k8psh.conf')), cwd: d1 }, ok('B\n'));
    await afterChange(t, 'relative, from dir 1', 'who', { env: with_('k8psh.conf'), cwd: d1 }, ok('A\n'));
    await afterChange(t, 'relative, from dir 2', 'who', { env: with_('k8psh.conf'), cwd: d2 }, ok('B\n'));
    await afterChange(t, 'relative ../cfg1', 'who', { env: with_('../cfg1/k8psh.conf'), cwd: d2 }, ok('A\n'));
    await afterChange(t, 'unset, in dir 2', 'who', { env: with_(undefined), cwd: d2 }, ok('B\n'));
    await afterChange(t, 'unset, in dir 1', 'who', { env: with_(undefined), cwd: d1 }, ok('A\n'));
  });

  t.test('the root as base and working directory, K8PSH_CONFIG relative to it (key //...)', async (t) => {
    const port = await freePort();
    await serve('root', port, 'where /bin/pwd\n', '/');
    const conf = writeFile(join(dir, 'root', 'k8psh.conf'), `baseDirectory = /\n[ root:${port} ]\nwhere\n`);
    symlinkSync(BIN, join(bin, 'where'));
    for (const [cwd, config] of [
      ['/', conf.slice(1)],
      ['/', `./${conf.slice(1)}`],
      [dirname(conf), 'k8psh.conf'],
      [dir, conf],
    ] as const)
      await afterChange(
        t,
        `in ${cwd}, ${config}`,
        'where',
        { env: { ...baseEnv, K8PSH_CONFIG: config }, cwd },
        ok(`${cwd}\n`),
      );
  });

  t.test('K8PSH_CONFIG a symlink, retargeted to a file of the same size and time', async (t) => {
    const [portA, portB] = await swappedPorts();
    await serve('s1', portA, 'who /bin/echo A\n');
    await serve('s1', portB, 'who /bin/echo B\n');
    const d = join(dir, 'link');
    const fileA = writeFile(join(d, 'a.conf'), `baseDirectory = ${d}\n[ s1:${portA} ]\nwho\n`);
    const fileB = writeFile(join(d, 'b.conf'), `baseDirectory = ${d}\n[ s1:${portB} ]\nwho\n`);
    const stamp = statSync(fileA);
    utimesSync(fileB, stamp.atime, stamp.mtime);
    const link = join(d, 'k8psh.conf');
    symlinkSync('a.conf', link);
    const opts = { env: { ...baseEnv, K8PSH_CONFIG: link }, cwd: d };
    await afterChange(t, 'link to a', 'who', opts, ok('A\n'));
    rmSync(link);
    symlinkSync('b.conf', link);
    await afterChange(t, 'link to b', 'who', opts, ok('B\n'));
  });

  t.test(
    'config removed, working directory moved outside the base: the TypeScript client’s error',
    async (t) => {
      const port = await freePort();
      const base = join(dir, 'moving');
      await serve('s1', port, 'who /bin/echo A\n', base);
      const sub = join(base, 'sub');
      mkdirSync(sub, { recursive: true });
      const conf = writeFile(join(base, 'k8psh.conf'), `connectTimeoutMs = 1500\n[ s1:${port} ]\nwho\n`);
      const opts = { env: { ...baseEnv, K8PSH_CONFIG: conf }, cwd: sub };
      await afterChange(t, 'in the base', 'who', opts, ok('A\n'));
      const moved = join(dir, 'moved-out');
      renameSync(sub, moved);
      const outside = await runWay('ts', join(bin, 'who'), [], { ...opts, cwd: moved });
      t.equal(outside.code, 1);
      t.match(outside.stderr, /^k8psh: the current directory \S+moved-out is outside the base directory /);
      await afterChange(t, 'moved outside', 'who', { ...opts, cwd: moved }, outside, true);
      renameSync(moved, sub);
      await afterChange(t, 'back in the base', 'who', opts, ok('A\n'));
      rmSync(conf);
      const gone = await runWay('ts', join(bin, 'who'), [], opts);
      t.not(gone.code, 0);
      t.match(gone.stderr, /^k8psh: [^\n]*k8psh\.conf[^\n]*\n$/, 'one line naming the file');
      await afterChange(t, 'config removed', 'who', opts, gone, true);
    },
  );

  t.test('a command moved to another section (another port, same config size)', async (t) => {
    const [portA, portB] = [await freePort(), await freePort()];
    await serve('s1', portA, 'who /bin/echo who-on-s1\nother /bin/echo other-on-s1\n');
    await serve('s2', portB, 'who /bin/echo who-on-s2\nother /bin/echo other-on-s2\n');
    const conf = writeFile(join(dir, 'move', 'k8psh.conf'), `[ s1:${portA} ]\nwho\n[ s2:${portB} ]\nother\n`);
    const opts = { env: { ...baseEnv, K8PSH_CONFIG: conf }, cwd: dirname(conf) };
    await afterChange(t, 'who on s1', 'who', opts, ok('who-on-s1\n'));
    await afterChange(t, 'other on s2', 'other', opts, ok('other-on-s2\n'));
    const before = statSync(conf);
    writeFileSync(conf, `[ s1:${portA} ]\nother\n[ s2:${portB} ]\nwho\n`);
    utimesSync(conf, before.atime, before.mtime);
    await afterChange(t, 'who moved to s2', 'who', opts, ok('who-on-s2\n'));
    await afterChange(t, 'other moved to s1', 'other', opts, ok('other-on-s1\n'));
  });

  t.test('server not up yet: the stub waits for it (retries), whichever way', async (t) => {
    const port = await freePort();
    const conf = writeFile(
      join(dir, 'late', 'k8psh.conf'),
      `connectTimeoutMs = 10000\n[ late:${port} ]\nwho\n`,
    );
    const opts = { env: { ...baseEnv, K8PSH_CONFIG: conf }, cwd: dirname(conf) };
    // The table written while the server ran, then the server gone: the native stub finds no socket.
    const first = await serve('late', port, 'who /bin/echo late\n');
    t.same(await runWay('first', join(bin, 'who'), [], opts), ok('late\n'), 'with the server up');
    await first.stop();
    if (native) {
      const none = await runWay('native', join(bin, 'who'), [], opts);
      t.ok(refused(none), `no server: K8PSH_NATIVE=1 hands over: ${none.stderr.trim()}`);
    }
    for (const way of ['first', 'ts'] as const) {
      const call = runWay(way, join(bin, 'who'), [], opts);
      await sleep(400);
      const server = await serve('late', port, 'who /bin/echo late\n');
      t.same(await call, ok('late\n'), `${way}: the call made before the server started`);
      await server.stop();
    }
  });

  t.test('200 concurrent calls: every output checked (first with no table, then native)', async (t) => {
    const port = await freePort();
    await serve('many', port, 'echoarg /bin/echo\n');
    const conf = writeFile(
      join(dir, 'many', 'k8psh.conf'),
      `connectTimeoutMs = 30000\n[ many:${port} ]\nechoarg\n`,
    );
    const env = { ...baseEnv, K8PSH_CONFIG: conf, K8PSH_CACHE_DIR: join(dir, 'cache-many') };
    for (const way of ['first', 'native'] as const) {
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          runWay(way, join(bin, 'echoarg'), [`call ${i}`], { env, cwd: dirname(conf), timeoutMs: 120000 }),
        ),
      );
      const wrong = results.filter((r, i) => JSON.stringify(r) !== JSON.stringify(ok(`call ${i}\n`)));
      t.same(wrong.slice(0, 3), [], `${way}: all 200 outputs right (${Date.now() - started} ms)`);
    }
  });

  t.test('the reader of stdout goes away: SIGPIPE as locally (status 141)', async (t) => {
    const port = await freePort();
    const recorder = buildRecorder(dir);
    const box = new RecordBox(join(dir, 'records-pipe'));
    await serve('pipe', port, `big ${recorder} ${box.dir} big=50000000 --\n`);
    const conf = writeFile(join(dir, 'pipe', 'k8psh.conf'), `[ pipe:${port} ]\nbig\n`);
    const env = { ...baseEnv, K8PSH_CONFIG: conf };
    /** `command | head -c1` in bash: what head printed and the command's status. */
    const piped = (command: string, runEnv: NodeJS.ProcessEnv): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = spawn('bash', ['-c', `${command} | head -c1; echo " \${PIPESTATUS[0]}"`], {
          env: runEnv,
          cwd: dirname(conf),
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('error', reject);
        child.on('close', () => resolve(out));
      });
    const local = await piped(`'${recorder}' '${box.dir}' big=50000000 --`, env);
    t.equal(local, 'x 141\n', 'locally: killed by SIGPIPE');
    await piped(`'${join(bin, 'big')}'`, env); // has the table written
    for (const way of ['ts', 'first', 'native'] as const)
      t.equal(await piped(`'${join(bin, 'big')}'`, wayEnv(way, env)), local, `${way}: as locally`);
    box.take();
  });
});

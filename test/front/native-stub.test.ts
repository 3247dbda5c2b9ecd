/**
 * The native stub (docs/native-stubs.md) against the real server (dist/k8pshd) and against fake
 * servers on the local socket, the front built with AddressSanitizer and UBSan (glibc gcc) and
 * given the build id of dist/k8psh, its runtime directory linked beside it so that hand-overs start
 * the real TypeScript client. The compiled tables are written by test/lib/stub-table.mjs, from the
 * doc. K8PSH_NATIVE=1 proves a call ran natively (it exits 125 instead of handing over);
 * K8PSH_NATIVE=0 forces the TypeScript client, and the two must give the same requests (recorded by
 * a fake server, byte for byte) and the same outcomes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import t from 'tap';
import { freePorts, run, ROOT, sleep, SKIP_UNBUILT, startServer, type Result } from '../e2e/harness.js';
import { parseFrames, stringFrame, valueFrame } from '../lib/frames.mjs';
import { compileSanitized } from '../lib/sanitized.js';
import { buildIdOf, encodeTable, tableFileName, writeTable, type StubTable } from '../lib/stub-table.mjs';

const work = fs.realpathSync(fs.mkdtempSync('/tmp/k8psh-native-stub-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

/** The last 48 bytes of dist/k8psh: its trailer, hence its build id. */
function distBuildId(): string {
  const fd = fs.openSync(path.join(ROOT, 'dist/k8psh'), 'r');
  const size = fs.fstatSync(fd).size;
  const trailer = Buffer.alloc(48);
  fs.readSync(fd, trailer, 0, 48, size - 48);
  fs.closeSync(fd);
  return buildIdOf(trailer);
}

/** The ASan front with a trailer of no entries carrying dist's build id, its runtime linked beside it. */
function buildAsanFront(id: string): { front: string; error: string } {
  const dir = path.join(work, 'front');
  fs.mkdirSync(dir);
  const binary = path.join(dir, 'front.bin');
  const sources = fs
    .readdirSync(path.join(ROOT, 'native/front'))
    .filter((f) => f.endsWith('.c'))
    .map((f) => path.join(ROOT, 'native/front', f));
  const compiled = compileSanitized(binary, sources);
  if (compiled.status !== 0) return { front: '', error: compiled.stderr };
  const bytes = fs.readFileSync(binary);
  const trailer = Buffer.alloc(48);
  trailer.write('K8PSHRT1', 0, 'latin1');
  trailer.write(id, 8, 'latin1');
  trailer.writeBigUInt64LE(BigInt(bytes.length), 32);
  trailer.writeUInt32LE(0, 40);
  trailer.writeUInt32LE(bytes.length, 44);
  const front = path.join(dir, 'k8psh');
  fs.writeFileSync(front, Buffer.concat([bytes, trailer]), { mode: 0o755 });
  fs.symlinkSync(path.join(ROOT, 'dist', `.k8psh-runtime-${id}`), path.join(dir, `.k8psh-runtime-${id}`));
  return { front, error: '' };
}

const SANITIZERS = {
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
};

t.test('native stubs', { skip: SKIP_UNBUILT }, async (t) => {
  const id = distBuildId();
  const { front, error } = buildAsanFront(id);
  t.equal(error, '', 'the front builds with the sanitizers');
  if (!front) return;

  const [port, closerPort, fakePort, latePort] = (await freePorts(4)) as [number, number, number, number];
  const dir = path.join(work, 'ws');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.mkdirSync(bin);
  fs.symlinkSync(path.join(dir, 'sub'), path.join(work, 'linked-sub'));
  fs.writeFileSync(path.join(dir, 'notexec'), '#!/bin/sh\n', { mode: 0o644 });
  const config = path.join(dir, 'k8psh.conf');
  const configText = `connectTimeoutMs = 2500
[ srv:${port} ] ?TERM=
sh A=1 ?B= sh
yes
missing /nonexistent/program
noexec ./notexec
[ closer:${closerPort} ]
closer
[ fake:${fakePort} ]
fake A=1 ?B=
[ late:${latePort} ]
late sh
[ srv:${port} ]
bare sh
`;
  fs.writeFileSync(config, configText);
  for (const name of ['sh', 'yes', 'missing', 'noexec', 'closer', 'fake', 'late', 'ghost', 'bare'])
    fs.symlinkSync(front, path.join(bin, name));
  fs.mkdirSync(path.join(dir, 'bin-musl'));
  fs.symlinkSync(path.join(ROOT, 'dist/k8psh'), path.join(dir, 'bin-musl', 'sh'));

  const cache = path.join(work, 'cache');
  const table: StubTable = {
    buildId: id,
    key: config,
    configVariable: config,
    config: configText,
    variables: [],
    baseDirectory: dir,
    connectTimeoutMs: 2500,
    commands: [
      { name: 'sh', host: 'srv', port, names: ['TERM', 'A', 'B'] },
      { name: 'yes', host: 'srv', port, names: ['TERM'] },
      { name: 'missing', host: 'srv', port, names: ['TERM'] },
      { name: 'noexec', host: 'srv', port, names: ['TERM'] },
      { name: 'closer', host: 'closer', port: closerPort, names: [] },
      { name: 'fake', host: 'fake', port: fakePort, names: ['A', 'B'] },
      { name: 'late', host: 'late', port: latePort, names: [] },
      { name: 'bare', host: 'srv', port, names: [] },
    ],
  };
  const writeOurTable = (): string => writeTable(cache, id, config, encodeTable(table));
  writeOurTable();

  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...SANITIZERS,
    K8PSH_CONFIG: config,
    K8PSH_CACHE_DIR: cache,
  };
  for (const name of [
    'K8PSH_DEBUG',
    'K8PSH_TTY',
    'K8PSH_NATIVE',
    'K8PSH_STDIN',
    'K8PSH_DIRECT_STDIO',
    'B',
    'TERM',
  ])
    delete baseEnv[name];
  const serverEnv = { ...baseEnv, K8PSH_NAME: 'srv' };
  const server = await startServer(['--name', 'srv', '--disable-client-executables'], port, {
    env: serverEnv,
    cwd: dir,
  });
  t.teardown(() => server.stop());

  const stub = (
    name: string,
    args: string[],
    extra: NodeJS.ProcessEnv = {},
    cwd = dir,
    input?: string,
  ): Promise<Result> => run(path.join(bin, name), args, { env: { ...baseEnv, ...extra }, cwd, input });
  /** The stub with K8PSH_NATIVE set: '1' proves the native path ran, '0' forces the TypeScript client. */
  const forced =
    (setting: '0' | '1') =>
    (name: string, args: string[], extra: NodeJS.ProcessEnv = {}, cwd?: string, input?: string) =>
      stub(name, args, { ...extra, K8PSH_NATIVE: setting }, cwd, input);
  const native = forced('1');
  const typescript = forced('0');
  const outcome = (r: Result) => ({ code: r.code, signal: r.signal, out: r.out, err: r.err });

  t.test('runs natively: output, exit code, environment, working directory', async (t) => {
    const script = 'echo out; echo err >&2; pwd; echo "A=$A B=${B-unset} TERM=${TERM-unset}"; exit 3';
    for (const [extra, cwd] of [
      [{}, dir],
      [{ B: 'bee', TERM: 'xterm-test' }, path.join(dir, 'sub')],
      [{ B: '' }, path.join(work, 'linked-sub')],
    ] as const) {
      const n = await native('sh', ['-c', script], extra, cwd);
      const ts = await typescript('sh', ['-c', script], extra, cwd);
      t.same(outcome(n), outcome(ts), `the same as the TypeScript client in ${cwd}`);
      t.equal(n.code, 3);
    }
    const r = await native('sh', ['-c', 'echo "$A|$B"'], { B: 'b' });
    t.equal(r.out, '1|b\n');
  });

  t.test('the musl front of dist runs natively too', async (t) => {
    const r = await run(path.join(dir, 'bin-musl', 'sh'), ['-c', 'echo ok; exit 4'], {
      env: { ...baseEnv, K8PSH_NATIVE: '1' },
      cwd: dir,
    });
    t.same([r.code, r.out, r.err], [4, 'ok\n', '']);
  });

  t.test('death by signal and core signals, as the TypeScript client ends', async (t) => {
    for (const signal of ['HUP', 'INT', 'TERM', 'USR1', 'USR2', 'ALRM', 'KILL', 'PIPE', 'QUIT', 'SEGV']) {
      const script = `kill -${signal} $$; sleep 1`;
      const n = await native('sh', ['-c', script]);
      const ts = await typescript('sh', ['-c', script]);
      t.same(outcome(n), outcome(ts), `SIG${signal}: ${JSON.stringify(outcome(n))}`);
    }
  });

  t.test('errors from the server: 127, 126, printed as the TypeScript client prints them', async (t) => {
    for (const name of ['missing', 'noexec']) {
      const n = await native(name, []);
      const ts = await typescript(name, []);
      t.same(outcome(n), outcome(ts), name);
      t.equal(n.code, name === 'missing' ? 127 : 126);
      t.match(n.err, /^k8psh: /);
    }
  });

  t.test('stdin passed as it is, or /dev/null with K8PSH_STDIN=null', async (t) => {
    t.equal((await native('sh', ['-c', 'cat'], {}, dir, 'piped\n')).out, 'piped\n');
    const r = await native('sh', ['-c', 'cat; echo done'], { K8PSH_STDIN: 'null' }, dir, 'piped\n');
    t.same([r.code, r.out], [0, 'done\n']);
  });

  t.test('every hand-over case hands over, and the TypeScript client gives the right result', async (t) => {
    const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
      ['K8PSH_NATIVE=0', { K8PSH_NATIVE: '0' }, /^$/],
      ['K8PSH_DEBUG', { K8PSH_DEBUG: 'Main' }, /K8PSH_DEBUG is set/],
      ['K8PSH_TTY=1', { K8PSH_TTY: '1' }, /pseudo-terminal/],
      ['K8PSH_TTY=true', { K8PSH_TTY: 'true' }, /pseudo-terminal/],
      ['K8PSH_DIRECT_STDIO=0', { K8PSH_DIRECT_STDIO: '0' }, /K8PSH_DIRECT_STDIO=0/],
    ];
    for (const [name, extra, reason] of cases) {
      if (name !== 'K8PSH_NATIVE=0') {
        const refused = await native('sh', ['-c', 'echo ok'], extra);
        t.same([refused.code, refused.out], [125, ''], `${name}: not native with K8PSH_NATIVE=1`);
        t.match(refused.err, reason);
        t.match(refused.err, /^k8psh: not native: .*\n$/);
      }
      const r = await stub('sh', ['-c', 'echo ok'], extra);
      t.equal(r.code, 0, `${name}: handed over, ${r.err}`);
      t.match(r.out, /^ok\r?\n$/);
    }
    // Bytes that are not UTF-8: Node would send U+FFFD in their place, so the TypeScript client does.
    const viaShell = (native: string) =>
      run('/bin/sh', ['-c', `exec "$0" -c 'printf %s "$0"' "$(printf 'x\\377y')"`, path.join(bin, 'sh')], {
        env: { ...baseEnv, K8PSH_NATIVE: native },
        cwd: dir,
      });
    const notUtf8 = await viaShell('1');
    t.equal(notUtf8.code, 125);
    t.match(notUtf8.err, /not native: an argument is not valid UTF-8/);
    const replaced = await viaShell('');
    t.same([replaced.code, replaced.out], [0, 'x\ufffdy'], 'handed over: sent as Node decodes it');
    // Usage errors and unknown commands: reported by the TypeScript client.
    const bad = await stub('sh', ['-c', 'echo ok'], { K8PSH_STDIN: 'bogus' });
    t.same([bad.code, bad.out], [1, '']);
    t.match(bad.err, /K8PSH_STDIN must be "null" or unset/);
    t.match((await native('sh', [], { K8PSH_STDIN: 'bogus' })).err, /K8PSH_STDIN/);
    const ghost = await stub('ghost', []);
    t.equal(ghost.code, 127);
    t.match(ghost.err, /ghost: command not found/);
    t.match((await native('ghost', [])).err, /ghost is not a command of the table/);
    // Outside the base directory.
    const outside = await stub('sh', ['-c', 'echo ok'], {}, work);
    t.same(outcome(outside), outcome(await typescript('sh', ['-c', 'echo ok'], {}, work)));
    t.match(outside.err, /outside the base directory/);
    t.match(
      (await native('sh', [], {}, work)).err,
      /not native: the current directory is outside the base directory/,
    );
  });

  t.test('a table that is missing or no longer valid hands over', async (t) => {
    const file = path.join(cache, tableFileName(id, config));
    const check = async (what: string, reason: RegExp, extra: NodeJS.ProcessEnv = {}) => {
      const refused = await native('sh', ['-c', 'echo ok'], extra);
      t.equal(refused.code, 125, `${what}: not native`);
      t.match(refused.err, reason, what);
      const r = await stub('sh', ['-c', 'echo ok'], extra);
      t.same([r.code, r.out], [0, 'ok\n'], `${what}: handed over and ran`);
    };
    fs.rmSync(file);
    await check('missing', /no table at /);
    fs.writeFileSync(file, encodeTable({ ...table, buildId: 'another' }), { mode: 0o600 });
    await check('another build', /not valid \(another build\)/);
    const good = encodeTable(table);
    const damaged = Buffer.from(good);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 1, damaged.length - 1);
    fs.writeFileSync(file, damaged);
    await check('a flipped byte', /not valid \(checksum\)/);
    fs.writeFileSync(file, Buffer.concat([good, Buffer.from([0])]));
    await check('a byte more', /not valid \(bad header\)/);
    writeOurTable();
    fs.chmodSync(file, 0o620);
    await check('group-writable', /not valid \(not ours alone\)/);
    if (process.getuid?.() === 0) {
      fs.chmodSync(file, 0o600);
      fs.chownSync(file, 65534, 65534);
      await check('owned by another user', /not valid \(not ours alone\)/);
    }
    fs.rmSync(file);
    fs.symlinkSync(writeTable(path.join(work, 'elsewhere'), id, config, good), file);
    await check('a symlink', /cannot be opened|not a regular file/);
    fs.rmSync(file);
    writeOurTable();
    // The configuration edited: same size, same second.
    const edited = configText.replace('sh A=1', 'sh A=2');
    fs.writeFileSync(config, edited);
    await check('config edited, same size', /not valid \(configuration changed\)/);
    fs.writeFileSync(config, configText);
    // Another key, so another table (none yet).
    await check('K8PSH_CONFIG changed', /no table at /, {
      K8PSH_CONFIG: `${path.dirname(config)}/./k8psh.conf`,
    });
    writeTable(cache, id, config, encodeTable({ ...table, variables: [['PROBE', 'x']] }));
    await check('a variable the loader read changed', /a variable changed/, { PROBE: 'y' });
    const ok = await native('sh', ['-c', 'echo ok'], { PROBE: 'x' });
    t.same([ok.code, ok.out], [0, 'ok\n'], 'native again when the variable is as recorded');
    writeOurTable();
    t.equal((await native('sh', ['-c', 'echo ok'])).code, 0, 'native again');
    // The key is the path as given, made absolute with the current directory, not normalised.
    writeTable(cache, id, config, encodeTable({ ...table, configVariable: 'k8psh.conf' }));
    const relative = await native('sh', ['-c', 'echo ok'], { K8PSH_CONFIG: 'k8psh.conf' });
    t.same([relative.code, relative.out], [0, 'ok\n'], 'a relative K8PSH_CONFIG: the same key from the base');
    const fromSub = await native(
      'sh',
      ['-c', 'echo ok'],
      { K8PSH_CONFIG: '../k8psh.conf' },
      path.join(dir, 'sub'),
    );
    t.match(fromSub.err, new RegExp(`no table at .*${tableFileName(id, `${dir}/sub/../k8psh.conf`)}`));
    writeOurTable();
  });

  t.test('a configuration others may write: handed over, and the TypeScript client refuses it', async (t) => {
    // docs/configuration.md, "Who may write the configuration": the table's bytes still match, but
    // the file (or the directory of ./k8psh.conf) is no longer the caller's and root's alone.
    const untrusted = async (what: string, refusal: string, extra: NodeJS.ProcessEnv = {}) => {
      const handed = await native('sh', ['-c', 'echo ok'], extra);
      t.same(handed.code, 125, `${what}: not native`);
      t.match(handed.err, /not valid \(the configuration is not trusted\)\n$/, `${what}: why`);
      const r = await stub('sh', ['-c', 'echo ok'], extra);
      t.same([r.code, r.err, r.out], [1, refusal, ''], `${what}: refused`);
    };
    fs.chmodSync(config, 0o646);
    await untrusted(
      'writable by others',
      `k8psh: refusing the configuration ${config}: it is writable by others (mode 0646; chmod go-w ${config})\n`,
    );
    fs.chmodSync(config, 0o644);
    if (process.getuid?.() === 0) {
      fs.chownSync(config, 65534, 65534);
      await untrusted(
        'owned by another user',
        `k8psh: refusing the configuration ${config}: it is owned by uid 65534, not by root ` +
          '(chown it, or name a file you trust with $K8PSH_CONFIG)\n',
      );
      fs.chownSync(config, 0, 0);
    }
    // The relative default: the same key, the current directory's k8psh.conf.
    writeTable(cache, id, config, encodeTable({ ...table, configVariable: undefined }));
    const relative = { K8PSH_CONFIG: undefined };
    t.same((await native('sh', ['-c', 'echo ok'], relative)).out, 'ok\n', './k8psh.conf: native');
    fs.chmodSync(dir, 0o777);
    await untrusted(
      'its directory writable by others',
      `k8psh: refusing the configuration ./k8psh.conf: its directory ${dir} is writable by others ` +
        `(mode 0777; chmod go-w ${dir}, or name the file with $K8PSH_CONFIG)\n`,
      relative,
    );
    fs.chmodSync(dir, 0o1777);
    t.same((await native('sh', ['-c', 'echo ok'], relative)).out, 'ok\n', 'a sticky directory: native');
    fs.chmodSync(dir, 0o755);
    writeOurTable();
  });

  /** A fake server on the local socket: records each request, then answers with reply(socket). */
  function fakeServer(listenPort: number, reply: (socket: net.Socket) => void) {
    const requests: Buffer[] = [];
    const server = net.createServer((socket) => {
      let data = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        data = Buffer.concat([data, chunk]);
        if (requests.length >= 0 && parseFrames(data).frames.some((f) => f.type === 3)) {
          requests.push(data);
          data = Buffer.alloc(0);
          reply(socket);
        }
      });
    });
    return new Promise<{ server: net.Server; requests: Buffer[] }>((resolve) =>
      server.listen(`\0k8psh-${listenPort}`, () => resolve({ server, requests })),
    );
  }
  const hello = (): Buffer => {
    const payload = Buffer.alloc(10);
    payload.writeUInt32LE(0x3270386b, 0);
    payload.writeUInt16LE(1, 4);
    payload.writeUInt32LE(15, 6);
    return stringFrame(0x40, payload);
  };

  t.test("the request is byte for byte the TypeScript client's", async (t) => {
    const fake = await fakeServer(fakePort, (socket) =>
      socket.end(Buffer.concat([hello(), valueFrame(8, 0)])),
    );
    t.teardown(() => fake.server.close());
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [[], {}, dir],
      [['-c', 'x y', '', 'ünï', '--flag', '=', 'a=b'], { B: 'bee', A: 'mine' }, path.join(dir, 'sub')],
      [['spaces  in  it', '\t'], { B: '', TERM: 'vt100' }, path.join(work, 'linked-sub')],
      // Larger than a socket buffer: the descriptors go with the first bytes, the rest follows.
      [
        [...Array.from({ length: 6 }, (_, i) => String(i).repeat(100 * 1024)), 'ü'.repeat(50 * 1024)],
        { A: 'a'.repeat(100 * 1024) },
        dir,
      ],
    ];
    for (const [args, extra, cwd] of cases) {
      fake.requests.length = 0;
      const n = await native('fake', args, extra, cwd);
      const ts = await typescript('fake', args, extra, cwd);
      t.same([n.code, ts.code], [0, 0], n.err + ts.err);
      t.equal(fake.requests.length, 2);
      t.equal(
        fake.requests[0]!.toString('hex'),
        fake.requests[1]!.toString('hex'),
        `identical requests for ${JSON.stringify(args)}`,
      );
    }
  });

  t.test('connection lost, and lost after a forwarded signal', async (t) => {
    let mode = 'lost';
    const fake = await fakeServer(fakePort, (socket) => {
      socket.write(hello());
      if (mode === 'lost') socket.end();
      // 'signal': closes when the SIGNAL frame comes, as the original server does when the command dies by it
      else socket.on('data', (chunk) => chunk[0] === 0x42 && socket.end());
    });
    t.teardown(() => fake.server.close());
    const n = await native('fake', []);
    const ts = await typescript('fake', []);
    t.same(outcome(n), outcome(ts));
    t.same([n.code, n.err], [255, 'k8psh: connection to the server was lost before the command finished\n']);
    mode = 'signal';
    for (const forced of ['1', '0']) {
      const before = fake.requests.length;
      const child = spawn(path.join(bin, 'fake'), [], {
        env: { ...baseEnv, K8PSH_NATIVE: forced },
        cwd: dir,
        stdio: 'ignore',
      });
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        child.on('exit', (c, s) => resolve([c, s])),
      );
      while (fake.requests.length === before && child.exitCode === null) await sleep(20);
      child.kill('SIGHUP');
      const [code, signal] = await exited;
      t.same([code, signal], [null, 'SIGHUP'], `K8PSH_NATIVE=${forced}: died by the forwarded signal`);
    }
  });

  t.test('a forwarded signal reaches the command', async (t) => {
    const script = 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done';
    const child = spawn(path.join(bin, 'sh'), ['-c', script], {
      env: { ...baseEnv, K8PSH_NATIVE: '1' },
      cwd: dir,
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    while (!out.includes('ready')) await sleep(20);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    t.same([code, out], [7, 'ready\ngot TERM\n']);
  });

  t.test('a server that closes without a byte: handed over', async (t) => {
    // Reads the request first: closing before it is all sent is the sendmsg row, not this one.
    const closer = net.createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => closer.listen(`\0k8psh-${closerPort}`, resolve));
    t.teardown(() => closer.close());
    const refused = await native('closer', []);
    t.same(
      [refused.code, refused.err],
      [125, 'k8psh: not native: the server closed the connection without a byte\n'],
    );
    // The TypeScript client tries again, then relays over TCP, where nothing listens.
    const r = await stub('closer', []);
    t.equal(r.code, 255);
    t.notMatch(r.err, /not native/);
  });

  t.test('no server yet: handed over, the TypeScript client retries until it is up', async (t) => {
    const refused = await native('late', ['-c', 'echo hi']);
    t.match(refused.err, /not native: no local socket for port/);
    const call = stub('late', ['-c', 'echo late']);
    await sleep(300);
    const late = await startServer(['--name', 'late', '--disable-client-executables'], latePort, {
      env: { ...serverEnv, K8PSH_NAME: 'late' },
      cwd: dir,
    });
    t.teardown(() => late.stop());
    const r = await call;
    t.same([r.code, r.out], [0, 'late\n'], r.err);
    t.equal((await native('late', ['-c', 'echo now'])).out, 'now\n', 'native once it is up');
  });

  t.test('a passed terminal: TERM sent along, modes restored, window changes forwarded', async (t) => {
    const { terminal } = await import('../e2e/terminal.js');
    const remote =
      'echo "TERM=$TERM"; stty raw -echo; trap "echo; echo size \\$(stty size)" WINCH; echo ready; sleep 3 & wait; wait';
    const local = `"$0" -c '${remote}'; echo "status $?"; stty -a | tr " ;" "\\n\\n" | grep -x -e -echo -e echo -e icanon -e -icanon | tr "\\n" " "; echo END`;
    const term = terminal('/bin/sh', ['-c', local, path.join(bin, 'bare')], {
      env: { ...baseEnv, K8PSH_NATIVE: '1', TERM: 'xterm-256color' },
      cwd: dir,
    });
    await term.waitFor(/ready/);
    term.resize(120, 40);
    await term.waitFor(/END/);
    const screen = term.output();
    t.match(screen, /TERM=xterm-256color/, 'TERM went along with the passed terminal');
    t.match(screen, /size 40 120/, 'SIGWINCH forwarded');
    t.match(screen, /status 0/, screen);
    t.match(screen, /\bicanon echo END/, 'the modes the remote command changed are restored');
    t.notMatch(screen, /not native/);
  });

  t.test('100 concurrent native calls', async (t) => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => native('sh', ['-c', `echo call ${i}`])),
    );
    t.same(
      results.map((r) => [r.code, r.out]),
      results.map((_, i) => [0, `call ${i}\n`]),
    );
  });

  t.test('a reader that goes away: SIGPIPE as locally (exit 141, as the TypeScript client)', async (t) => {
    const child = spawn(path.join(bin, 'yes'), [], {
      env: { ...baseEnv, K8PSH_NATIVE: '1' },
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    const byReset = code === 1 && /^yes: standard output: Connection reset by peer\n$/.test(err);
    t.ok(byReset || (code === 141 && err === ''), JSON.stringify({ code, signal, err }));
  });
});

/**
 * Passed descriptors (docs/protocol.md, "Passed descriptors") against the real built server:
 * hand-made clients on its local socket `\0k8psh-<port>` send their request in one sendmsg with
 * descriptors (SCM_RIGHTS, our addon native/syscalls). Descriptors that do not match the HELLO
 * (passed without PASSED_STDIO, missing, too many, or with a terminal) are a protocol error refused
 * before anything runs — the only command those requests name, `marker`, would create a file; a
 * silent or vanishing peer is dropped; a valid request runs its command on the descriptors given,
 * nothing relayed. Whatever happened, the server keeps no passed descriptor: none of its
 * descriptors points at a file a case passed, and its count is back to its baseline at the end;
 * and it still serves normal TCP clients.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { syscalls, syscallsFailure } from '../../src/native/syscalls.js';
import { encodeRequest } from '../../src/protocol/client-session.js';
import { CLIENT_FEATURES, Feature } from '../../src/protocol/constants.js';
import { cleanup, freePort, pidsMatching, run, sleep, tempDir, writeFile } from '../e2e/harness.js';
import {
  converse,
  converseLocal,
  eventually,
  fdCount,
  fdOf,
  hello,
  makeWorkspace,
  refusal,
  request,
  SKIP_UNBUILT,
  startServer,
  stringFrame,
  T,
  type Conversation,
} from './harness.js';

/** A request not complete in 2 s is refused (and a silent local connection dropped). */
const REQUEST_TIMEOUT_MS = 2000;
/** HELLO features of a client passing its stdio. */
const PASSING = CLIENT_FEATURES | Feature.PASSED_STDIO;

/**
 * Known bug, kept as todo until it is fixed: the server accepts a local connection paused (to read its
 * first bytes with recvmsg) and never resumes it before the command is attached, so whatever the first
 * recvmsg did not get (a request over 64 KiB, or sent in two writes) is never read: the request is
 * refused at its timeout. The fix: `this.socket.resume()` at the end of `Connection.receiveFirst`.
 */
/** For a client that passes more descriptors than our addon can: Python's socket.send_fds. */
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((path) => existsSync(path));

const native = syscalls();
const SKIP = SKIP_UNBUILT || (native ? false : `no syscalls addon: ${syscallsFailure()}`);

/** HELLO (with `features`), then the request for `command`, as one buffer. */
function modernRequest(
  command: string,
  options: { features?: number; args?: string[]; tty?: boolean } = {},
): Buffer {
  return encodeRequest({
    hello: true,
    features: options.features ?? PASSING,
    tty: options.tty ? { rows: 24, cols: 80, term: 'xterm' } : null,
    workingDirectory: '',
    arguments: options.args ?? [],
    environment: [],
    command,
  });
}

/** The server's descriptors that point into `dir` (readlink of /proc/<pid>/fd/*). */
function heldIn(pid: number, dir: string): string[] {
  const held: string[] = [];
  for (const entry of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${entry}`);
      if (target.startsWith(`${dir}/`)) held.push(`${entry} -> ${target}`);
    } catch {
      // Closed meanwhile.
    }
  }
  return held;
}

t.test('descriptors passed on the local socket', { skip: SKIP }, async (t) => {
  const port = await freePort();
  const markerDir = tempDir('k8psh-marker-');
  const marker = join(markerDir, 'ran');
  const ws = await makeWorkspace(
    `[ srv:${port} ]\n` +
      `marker /bin/sh -c 'touch ${marker}; echo ran'\n` +
      `ok /bin/echo ok\n` +
      `direct /bin/sh -c 'read line; echo "got $line $1"; echo "err $1" >&2' sh\n` +
      `three /bin/sh -c 'exit 3'\n` +
      `wait /bin/sh -c 'echo started; exec sleep 30.4731'\n`,
  );
  const server = await startServer(['--name', 'srv', '--request-timeout', String(REQUEST_TIMEOUT_MS)], port, {
    env: ws.env,
    cwd: ws.dir,
  });
  const pid = server.process.pid!;
  t.teardown(async () => {
    await server.stop();
    for (const sleeper of await pidsMatching('sleep 30.4731')) process.kill(sleeper, 'SIGKILL');
    cleanup(ws.dir, markerDir);
  });

  // Warm up (the first spawn opens what the server keeps for all of them), then the baseline.
  const warm = await run(join(ws.bin, 'ok'), [], {
    env: { ...ws.env, K8PSH_DIRECT_STDIO: '0' },
    cwd: ws.dir,
  });
  t.equal(warm.code, 0, `a relayed session works: ${warm.err}`);
  await sleep(300);
  const baseline = fdCount(pid);

  let cases = 0;
  /** stdin, stdout, stderr of a new case directory, opened; ours are closed at the end of the test. */
  const openCase = (t: Test) => {
    const dir = join(ws.dir, `case-${++cases}`);
    const stdin = join(dir, 'stdin');
    const stdout = join(dir, 'stdout');
    const stderr = join(dir, 'stderr');
    writeFile(stdin, 'input\n');
    writeFile(stdout, '');
    writeFile(stderr, '');
    const fds = [openSync(stdin, 'r'), openSync(stdout, 'w'), openSync(stderr, 'w')];
    t.teardown(() => fds.forEach((fd) => closeSync(fd)));
    return { dir, stdout, stderr, fds };
  };

  /** A refusal for a new client: HELLO reply, ERROR `message`, EXIT_CODE 1; nothing ran or was written. */
  const checkRefused = async (t: Test, result: Conversation, message: string, dir: string) => {
    t.ok(result.closed, 'the server closes the connection');
    const r = refusal(result);
    t.same(r.types, [T.HELLO, T.ERROR, T.EXIT_CODE], 'HELLO reply, ERROR, EXIT_CODE');
    t.equal(r.message, message, 'the ERROR message, word for word');
    t.equal(r.code, 1, 'exit code 1');
    t.notOk(existsSync(marker), 'nothing ran');
    t.equal(readFileSync(join(dir, 'stdout'), 'utf8'), '', 'nothing was written to the passed stdout');
    t.ok(
      await eventually(() => heldIn(pid, dir).length === 0, 10000),
      'the server closed every passed descriptor',
    );
    t.same(heldIn(pid, dir), []);
  };

  t.test('(a) descriptors without PASSED_STDIO are a protocol error', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, modernRequest('marker', { features: CLIENT_FEATURES }), {
      fds: c.fds,
    });
    await checkRefused(
      t,
      result,
      'protocol error: 3 descriptors came with a request that does not pass its stdio',
      c.dir,
    );
  });

  t.test('(a) descriptors with an original request (no HELLO) are a protocol error', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, request('marker'), { fds: c.fds });
    t.ok(result.closed);
    const r = refusal(result);
    t.same(r.types, [T.STDERR_DATA, T.EXIT_CODE], 'STDERR_DATA, EXIT_CODE: frames an old client knows');
    t.equal(
      r.message,
      'k8psh: protocol error: 3 descriptors came with a request that does not pass its stdio\n',
    );
    t.equal(r.code, 1);
    t.notOk(existsSync(marker), 'nothing ran');
    t.ok(
      await eventually(() => heldIn(pid, c.dir).length === 0, 10000),
      'the server closed every passed descriptor',
    );
  });

  t.test('(b) PASSED_STDIO announced, no descriptors: refused', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, modernRequest('marker'), { fds: [] });
    await checkRefused(
      t,
      result,
      'protocol error: 0 descriptors came with a request that passes its stdio',
      c.dir,
    );
  });

  t.test('(c) PASSED_STDIO with 8 descriptors: refused, all 8 closed', async (t) => {
    const c = openCase(t);
    const [stdin, stdout, stderr] = c.fds as [number, number, number];
    const result = await converseLocal(port, modernRequest('marker'), {
      fds: [stdin, stdout, stderr, stdout, stderr, stdout, stderr, stdin],
    });
    await checkRefused(
      t,
      result,
      'protocol error: 8 descriptors came with a request that passes its stdio',
      c.dir,
    );
  });

  t.test(
    '(c) 21 descriptors from a client not bound by our addon: dropped, all closed',
    { skip: PYTHON ? false : 'no python3' },
    async (t) => {
      const c = openCase(t);
      // Our descriptors are the client's 3, 4 and 5; it sends them 7 times over.
      const script = [
        'import socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
        // The libuv of Node 24 binds an abstract name as its exact bytes (Node 20's padded it to 108).
        "s.connect(b'\\0k8psh-' + sys.argv[1].encode())",
        's.settimeout(15)',
        'socket.send_fds(s, [bytes.fromhex(sys.argv[2])], [3, 4, 5] * 7)',
        "out = b''",
        'while True:',
        '    chunk = s.recv(65536)',
        '    if not chunk: break',
        '    out += chunk',
        'print(len(out))',
      ].join('\n');
      const client = spawn(PYTHON!, ['-c', script, String(port), modernRequest('marker').toString('hex')], {
        stdio: ['ignore', 'pipe', 'pipe', ...c.fds],
      });
      let out = '';
      let err = '';
      client.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      client.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => client.on('close', resolve));
      t.equal(code, 0, `the client ran: ${err}`);
      t.equal(out, '0\n', 'the server closed the connection without an answer');
      t.notOk(existsSync(marker), 'nothing ran');
      t.ok(
        await eventually(() => heldIn(pid, c.dir).length === 0, 10000),
        'the server closed every descriptor it got',
      );
    },
  );

  t.test('(d) PASSED_STDIO with 3 descriptors and a TTY_REQUEST: refused', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, modernRequest('marker', { tty: true }), { fds: c.fds });
    await checkRefused(
      t,
      result,
      'protocol error: 3 descriptors came with a request that passes its stdio and asks for a terminal',
      c.dir,
    );
  });

  t.test('(e) a connection that sends nothing is closed at the request timeout', async (t) => {
    const result = await converseLocal(port, Buffer.alloc(0));
    t.ok(result.closed, `the server closed it (after ${result.ms} ms)`);
    t.ok(result.ms >= REQUEST_TIMEOUT_MS - 100, `not before the request timeout (${result.ms} ms)`);
    t.equal(result.raw.length, 0, 'without a word: there was no request to answer');
  });

  t.test(
    '(e) an unfinished request with descriptors: held while waiting, closed at the timeout',
    async (t) => {
      const c = openCase(t);
      let heldWhileWaiting: string[] = [];
      const result = await converseLocal(
        port,
        Buffer.concat([hello(1, PASSING), stringFrame(T.WORKING_DIRECTORY, '')]),
        {
          fds: c.fds,
          onSent: () =>
            void eventually(
              () => (heldWhileWaiting = heldIn(pid, c.dir)).length === 3,
              REQUEST_TIMEOUT_MS / 2,
              20,
            ),
        },
      );
      t.equal(
        heldWhileWaiting.length,
        3,
        `the server held the 3 descriptors meanwhile: ${heldWhileWaiting.join(', ')}`,
      );
      await checkRefused(t, result, 'request not completed in time', c.dir);
      t.ok(result.ms >= REQUEST_TIMEOUT_MS - 100, `refused at the request timeout (${result.ms} ms)`);
    },
  );

  t.test('(f) connections that connect and close at once', async (t) => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => converseLocal(port, Buffer.alloc(0), { closeAtOnce: true })),
    );
    for (const result of results) t.equal(result.raw.length, 0, 'nothing came back');
    t.equal(server.process.exitCode, null, 'the server is still up');
  });

  t.test('(f) a client gone after sending part of a request with descriptors', async (t) => {
    const c = openCase(t);
    let socket: Socket | undefined;
    const conversation = converseLocal(
      port,
      Buffer.concat([hello(1, PASSING), stringFrame(T.WORKING_DIRECTORY, '')]),
      {
        fds: c.fds,
        onSent: (s) => (socket = s),
      },
    );
    t.ok(await eventually(() => heldIn(pid, c.dir).length === 3, 5000), 'the server holds the 3 descriptors');
    socket!.destroy();
    await conversation;
    t.ok(
      await eventually(() => heldIn(pid, c.dir).length === 0, 10000),
      'the server closed every passed descriptor',
    );
    t.notOk(existsSync(marker), 'nothing ran');
  });

  t.test('(g) a valid request runs on the passed descriptors', async (t) => {
    const c = openCase(t);
    // stdout: a pipe into `cat`, whose output we read.
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    let piped = '';
    cat.stdout.on('data', (chunk: Buffer) => (piped += chunk.toString()));
    t.teardown(() => {
      cat.stdin.end();
      cat.kill();
    });
    const [stdin, , stderr] = c.fds as [number, number, number];
    const result = await converseLocal(port, modernRequest('direct', { args: ['x'] }), {
      fds: [stdin, fdOf(cat.stdin as unknown as Socket), stderr],
    });
    t.ok(result.closed, 'the server closes the connection');
    t.same(
      result.frames.map((f) => f.type),
      [T.HELLO, T.EXIT_CODE],
      'HELLO reply and EXIT_CODE only: no output relayed',
    );
    t.equal(result.frames.at(-1)?.value, 0, 'EXIT_CODE 0');
    t.ok(
      await eventually(() => piped === 'got input x\n', 10000),
      `stdout went into the pipe: ${JSON.stringify(piped)}`,
    );
    t.equal(readFileSync(c.stderr, 'utf8'), 'err x\n', 'stderr went into the file');
    t.ok(
      await eventually(() => heldIn(pid, c.dir).length === 0, 10000),
      'the server keeps no passed descriptor',
    );
  });

  t.test('(g) the exit code comes back', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, modernRequest('three'), { fds: c.fds });
    t.same(refusal(result).types, [T.HELLO, T.EXIT_CODE]);
    t.equal(refusal(result).code, 3);
  });

  t.test('(g) a direct command whose client is gone is ended', async (t) => {
    const c = openCase(t);
    let socket: Socket | undefined;
    const conversation = converseLocal(port, modernRequest('wait'), {
      fds: c.fds,
      onSent: (s) => (socket = s),
    });
    t.ok(
      await eventually(() => readFileSync(c.stdout, 'utf8') === 'started\n', 10000),
      'the command runs on the passed stdout',
    );
    t.ok((await pidsMatching('sleep 30.4731')).length > 0, 'it is running');
    socket!.destroy();
    await conversation;
    t.ok(
      await eventually(async () => (await pidsMatching('sleep 30.4731')).length === 0, 10000),
      'the command is gone with its client',
    );
  });

  t.test('(g) the rest of a request after the first bytes is read', async (t) => {
    const c = openCase(t);
    const whole = modernRequest('direct', { args: ['y'] });
    const split = whole.length - 8;
    const result = await converseLocal(port, whole.subarray(0, split), {
      fds: c.fds,
      later: [whole.subarray(split)],
    });
    t.same(refusal(result), { message: '', code: 0, types: [T.HELLO, T.EXIT_CODE] }, 'run, exit 0');
    t.equal(readFileSync(c.stdout, 'utf8'), 'got input y\n');
  });

  t.test('(g) a request larger than the first read', async (t) => {
    const c = openCase(t);
    const result = await converseLocal(port, modernRequest('direct', { args: ['z'.repeat(100_000)] }), {
      fds: c.fds,
    });
    t.same(refusal(result), { message: '', code: 0, types: [T.HELLO, T.EXIT_CODE] }, 'run, exit 0');
    t.equal(readFileSync(c.stdout, 'utf8'), `got input ${'z'.repeat(100_000)}\n`);
  });

  t.test('(g) a stub with a large argument', async (t) => {
    const big = 'w'.repeat(100_000);
    const r = await run(join(ws.bin, 'ok'), [big], { env: ws.env, cwd: ws.dir });
    t.same([r.code, r.out, r.err], [0, `ok ${big}\n`, '']);
  });

  t.test('the server keeps no passed descriptor: back to its baseline', async (t) => {
    const settled = await eventually(() => fdCount(pid) <= baseline, 15000, 100);
    t.ok(settled, `${fdCount(pid)} descriptors, baseline ${baseline}`);
    t.equal(server.process.exitCode, null, 'the server is still up');
  });

  t.test('(h) the server still serves normal clients', async (t) => {
    const tcp = await converse(port, Buffer.concat([hello(), request('ok')]));
    t.ok(tcp.closed);
    const types = tcp.frames.map((f) => f.type);
    // The ends of stdout and stderr race each other (both close when the command exits).
    t.same(
      [...types.slice(0, 2), ...types.slice(2, 4).sort(), ...types.slice(4)],
      [T.HELLO, T.STDOUT_DATA, T.STDOUT_DATA, T.STDERR_DATA, T.EXIT_CODE],
      'a relayed session',
    );
    t.equal(tcp.frames[1]?.payload?.toString(), 'ok\n');
    t.equal(tcp.frames.at(-1)?.value, 0);
    const relayed = await run(join(ws.bin, 'ok'), [], {
      env: { ...ws.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: ws.dir,
    });
    t.same([relayed.code, relayed.out, relayed.err], [0, 'ok\n', ''], 'a stub over TCP');
    const direct = await run(join(ws.bin, 'ok'), [], { env: ws.env, cwd: ws.dir });
    t.same([direct.code, direct.out, direct.err], [0, 'ok\n', ''], 'a stub passing its stdio');
    t.notMatch(server.stderr(), /internal error/);
  });
});

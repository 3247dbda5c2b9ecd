/**
 * The descriptor-passing addon (native/syscalls) from the sources, over real local sockets: what one
 * end sends with SCM_RIGHTS arrives at the other as new descriptors of the same open files (same
 * file offset, same pipe), close-on-exec; errors come back as Node-style errors, bad arguments as
 * TypeErrors, and nothing crashes the process.
 *
 * Bytes always go from the connecting socket to the accepted one: the accepted socket is paused
 * (pauseOnConnect), so Node never reads it and every byte is left for receive().
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { defaultDlopen } from '../../src/native/cache.js';
import { syscalls, syscallsFailure, type Syscalls, type Readiness } from '../../src/native/syscalls.js';

const O_CLOEXEC = 0o2000000;

let pairs = 0;

interface Pair {
  /** The connecting end: we send from it. */
  client: Socket;
  /** The accepted end, paused: we receive on it. */
  server: Socket;
  clientFd: number;
  serverFd: number;
}

function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no descriptor');
  return fd;
}

/** A connected AF_UNIX stream pair on a fresh abstract name, closed at the end of the test. */
async function socketPair(t: Test): Promise<Pair> {
  const path = `\0k8psh-test-${process.pid}-${++pairs}`;
  const listener = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ path, exclusive: true }, () => resolve());
  });
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const client = connect({ path });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const server = await accepted;
  t.teardown(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { client, server, clientFd: fdOf(client), serverFd: fdOf(server) };
}

/** A fresh temporary directory, removed at the end of the test. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-syscalls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens `path` and closes the descriptor at the end of the test. */
function open(t: Test, path: string, flags: string): number {
  const fd = openSync(path, flags);
  t.teardown(() => closeQuietly(fd));
  return fd;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

/** The `flags:` field of /proc/self/fdinfo/<fd> (octal). */
function fdFlags(fd: number): number {
  const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!match) throw new Error(`no flags for descriptor ${fd}`);
  return parseInt(match[1]!, 8);
}

/** Receives until something arrives (the bytes are on their way through the kernel, not the event loop). */
async function receiveSoon(
  native: Syscalls,
  fd: number,
  buffer: Buffer,
): Promise<{ bytes: number; fds: number[] }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const received = native.receive(fd, buffer);
    if (received) return received;
    if (Date.now() > deadline) throw new Error('nothing arrived in 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const native = syscalls();
/** The addon's own functions, without the wrapper's checks and conversions. */
const syscallsAddon = (): unknown =>
  defaultDlopen(new URL('../../native/syscalls/build/Release/syscalls.node', import.meta.url).pathname);

t.test('the addon loads from the sources', async (t) => {
  t.ok(native, `syscalls() is not null (${syscallsFailure() ?? 'loaded'})`);
  t.equal(syscalls(), native, 'loaded once');
});

t.test('descriptor passing', { skip: native ? false : `no addon: ${syscallsFailure()}` }, async (t) => {
  const addon = native!;

  t.test('receive() is null while nothing was sent', async (t) => {
    const { serverFd } = await socketPair(t);
    t.equal(addon.receive(serverFd, Buffer.alloc(64)), null);
    t.equal(addon.receive(serverFd, Buffer.alloc(64)), null, 'still null, and nothing blocked');
  });

  t.test('three descriptors arrive as new descriptors of the same open files', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'file');
    const log = join(dir, 'log');
    const fifo = join(dir, 'fifo');
    writeFileSync(file, '');
    writeFileSync(log, 'log:');
    execFileSync('mkfifo', [fifo]);
    const originals = [
      open(t, file, 'r+'),
      // O_RDWR on a FIFO opens at once on Linux: one descriptor holds both ends.
      open(t, fifo, 'r+'),
      open(t, log, 'a'),
    ];
    const { clientFd, serverFd } = await socketPair(t);
    const data = Buffer.from('HELLO with stdio');

    t.equal(addon.send(clientFd, data, originals), data.length, 'all bytes sent in one call');
    const buffer = Buffer.alloc(1024);
    const received = await receiveSoon(addon, serverFd, buffer);
    t.teardown(() => received.fds.forEach(closeQuietly));

    t.equal(received.bytes, data.length, 'byte count');
    t.equal(buffer.subarray(0, received.bytes).toString(), data.toString(), 'the bytes came with them');
    t.equal(received.fds.length, 3, 'three descriptors, in the order sent');
    for (const [i, fd] of received.fds.entries()) {
      t.notOk(originals.includes(fd), `received ${fd} is a new descriptor`);
      const [mine, theirs] = [fstatSync(originals[i]!), fstatSync(fd)];
      t.equal(theirs.dev, mine.dev, `descriptor ${i}: same device`);
      t.equal(theirs.ino, mine.ino, `descriptor ${i}: same inode`);
      t.ok(fdFlags(fd) & O_CLOEXEC, `received ${fd} is close-on-exec (O_CLOEXEC in fdinfo flags)`);
    }
    const [fileFd, fifoFd, logFd] = received.fds as [number, number, number];

    // Same open file description, not merely the same file: the offset is shared, so writes
    // through either descriptor follow each other instead of overwriting.
    writeSync(originals[0]!, 'abc');
    writeSync(fileFd, 'def');
    t.equal(readFileSync(file, 'utf8'), 'abcdef', 'writes through the received descriptor land in the file');

    writeSync(fifoFd, 'through the pipe');
    const pipeBytes = Buffer.alloc(64);
    const n = readSync(originals[1]!, pipeBytes, 0, pipeBytes.length, null);
    t.equal(pipeBytes.toString('utf8', 0, n), 'through the pipe', 'the received FIFO end is the same pipe');

    writeSync(logFd, 'appended');
    t.equal(readFileSync(log, 'utf8'), 'log:appended', 'the append-only file keeps its mode');

    closeSync(fileFd);
    writeSync(originals[0]!, 'ghi');
    t.equal(readFileSync(file, 'utf8'), 'abcdefghi', 'closing the received copy leaves ours open');
  });

  t.test('data with no descriptors', async (t) => {
    const { clientFd, serverFd } = await socketPair(t);
    t.equal(addon.send(clientFd, Buffer.from('plain'), []), 5);
    const buffer = Buffer.alloc(64);
    const received = await receiveSoon(addon, serverFd, buffer);
    t.same(received, { bytes: 5, fds: [] });
    t.equal(buffer.toString('utf8', 0, 5), 'plain');
    t.equal(addon.receive(serverFd, buffer), null, 'nothing more');
  });

  t.test('eight descriptors, the most allowed, all arrive', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), '');
    const fd = open(t, join(dir, 'file'), 'r');
    const { clientFd, serverFd } = await socketPair(t);
    t.equal(addon.send(clientFd, Buffer.from('x'), Array<number>(8).fill(fd)), 1);
    const received = await receiveSoon(addon, serverFd, Buffer.alloc(8));
    t.teardown(() => received.fds.forEach(closeQuietly));
    t.equal(received.fds.length, 8);
    t.equal(new Set(received.fds).size, 8, 'eight distinct descriptors');
    for (const each of received.fds) t.equal(fstatSync(each).ino, fstatSync(fd).ino);
  });

  t.test('a buffer shorter than the message: descriptors come with its first bytes', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), '');
    const fd = open(t, join(dir, 'file'), 'r');
    const { clientFd, serverFd } = await socketPair(t);
    addon.send(clientFd, Buffer.from('0123456789'), [fd, fd, fd]);
    const small = Buffer.alloc(4);
    const first = await receiveSoon(addon, serverFd, small);
    t.teardown(() => first.fds.forEach(closeQuietly));
    t.equal(first.bytes, 4);
    t.equal(small.toString(), '0123');
    t.equal(first.fds.length, 3);
    const rest = Buffer.alloc(64);
    t.same(addon.receive(serverFd, rest), { bytes: 6, fds: [] }, 'the rest, without descriptors');
    t.equal(rest.toString('utf8', 0, 6), '456789');
  });

  t.test('the peer closed: zero bytes, no descriptors (not null)', async (t) => {
    const { client, serverFd } = await socketPair(t);
    client.destroy();
    const received = await receiveSoon(addon, serverFd, Buffer.alloc(16));
    t.same(received, { bytes: 0, fds: [] });
  });

  t.test('system errors are thrown with their code', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), '');
    const fd = open(t, join(dir, 'file'), 'r+');
    t.throws(() => addon.send(fd, Buffer.from('x'), []), { code: 'ENOTSOCK', syscall: 'sendmsg' });
    t.throws(() => addon.send(fd, Buffer.from('x'), [fd, fd, fd]), { code: 'ENOTSOCK' });
    t.throws(() => addon.receive(fd, Buffer.alloc(8)), { code: 'ENOTSOCK', syscall: 'recvmsg' });
    const { clientFd } = await socketPair(t);
    t.throws(
      () => addon.send(clientFd, Buffer.from('x'), [-1]),
      { code: 'EBADF' },
      'a bad descriptor to pass',
    );
  });

  t.test('bad arguments throw TypeError and never crash the process', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), '');
    const fd = open(t, join(dir, 'file'), 'r');
    const { clientFd, serverFd } = await socketPair(t);
    const loose = addon as unknown as {
      send(...args: unknown[]): number;
      receive(...args: unknown[]): unknown;
    };
    const bad: [string, () => unknown][] = [
      ['data is a string', () => loose.send(clientFd, 'abc', [])],
      ['data is a number', () => loose.send(clientFd, 42, [])],
      ['data is null', () => loose.send(clientFd, null, [])],
      ['data is empty', () => loose.send(clientFd, Buffer.alloc(0), [])],
      ['nine descriptors', () => loose.send(clientFd, Buffer.from('x'), Array<number>(9).fill(fd))],
      ['a thousand descriptors', () => loose.send(clientFd, Buffer.from('x'), Array<number>(1000).fill(fd))],
      ['fds is not an array', () => loose.send(clientFd, Buffer.from('x'), fd)],
      ['fds holds a string', () => loose.send(clientFd, Buffer.from('x'), ['0'])],
      ['socketFd is a string', () => loose.send(String(clientFd), Buffer.from('x'), [])],
      ['send() with two arguments', () => loose.send(clientFd, Buffer.from('x'))],
      ['send() with nothing', () => loose.send()],
      ['receive() into a string', () => loose.receive(serverFd, 'abc')],
      ['receive() into an empty buffer', () => loose.receive(serverFd, Buffer.alloc(0))],
      ['receive() with socketFd undefined', () => loose.receive(undefined, Buffer.alloc(8))],
      ['receive() with one argument', () => loose.receive(serverFd)],
    ];
    for (const [name, call] of bad) t.throws(call, TypeError, name);
    // Nothing of the refused calls reached the socket, and the addon still works.
    t.equal(addon.receive(serverFd, Buffer.alloc(8)), null, 'nothing was sent by the refused calls');
    t.equal(addon.send(clientFd, Buffer.from('ok'), []), 2);
    t.same(await receiveSoon(addon, serverFd, Buffer.alloc(8)), { bytes: 2, fds: [] }, 'still works');
  });
});

t.test('spawn() and reap()', { skip: native ? false : `no addon: ${syscallsFailure()}` }, async (t) => {
  const addon = native!;
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-spawn-'));
  // The working directory goes as a descriptor (the server opens it beneath its base).
  const dirfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  t.teardown(() => {
    closeSync(dirfd);
    rmSync(dir, { recursive: true, force: true });
  });
  /** Three descriptors above 2 for the child: stdin from /dev/null, stdout and stderr to files. */
  const stdio = (): { fds: number[]; out: string; err: string } => {
    const out = join(dir, `out-${Math.random()}`);
    const err = join(dir, `err-${Math.random()}`);
    return { fds: [openSync('/dev/null', 'r'), openSync(out, 'w'), openSync(err, 'w')], out, err };
  };
  const ended = async (pid: number): Promise<{ code: number | null; signal: number | null }> => {
    for (let i = 0; i < 500; i++) {
      const ending = addon.reap(pid);
      if (ending) return ending;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${pid} did not end in 5 s`);
  };

  t.test('runs the program on the descriptors, in the directory, with exactly the environment', async (t) => {
    const { fds, out, err } = stdio();
    const pid = addon.spawn(
      '/bin/sh',
      ['sh', '-c', 'pwd; echo "$A|$B"; echo oops >&2; exit 7'],
      ['A=1', 'B=two words'],
      dirfd,
      fds,
    );
    for (const fd of fds) closeSync(fd);
    t.ok(pid > 0);
    t.same(await ended(pid), { code: 7, signal: null });
    t.equal(readFileSync(out, 'utf8'), `${dir}\n1|two words\n`);
    t.equal(readFileSync(err, 'utf8'), 'oops\n');
  });

  t.test('a death by signal is reported as the signal', async (t) => {
    const { fds } = stdio();
    const pid = addon.spawn('/bin/sh', ['sh', '-c', 'kill -TERM $$'], [], dirfd, fds);
    for (const fd of fds) closeSync(fd);
    t.same(await ended(pid), { code: null, signal: 15 });
  });

  t.test('failures are thrown with their code, and leave no child behind', async (t) => {
    const { fds } = stdio();
    const missing = join(dir, 'missing');
    t.throws(() => addon.spawn(missing, ['missing'], [], dirfd, fds), { code: 'ENOENT' }, 'no such program');
    writeFileSync(join(dir, 'plain'), 'not a program');
    const file = openSync(join(dir, 'plain'), 'r');
    t.throws(() => addon.spawn('/bin/true', ['true'], [], file, fds), { code: 'ENOTDIR' }, 'not a directory');
    closeSync(file);
    t.throws(
      () => addon.spawn(join(dir, 'plain'), ['plain'], [], dirfd, fds),
      { code: 'EACCES' },
      'not executable',
    );
    for (const fd of fds) closeSync(fd);
    t.throws(() => addon.reap(999999999), { code: 'ECHILD' }, 'not our child');
  });

  t.test('pidfd() turns readable when the child exits, not before', async (t) => {
    const { fds } = stdio();
    const pid = addon.spawn('/bin/sh', ['sh', '-c', 'sleep 0.3; exit 3'], [], dirfd, fds);
    for (const fd of fds) closeSync(fd);
    const pidfd = addon.pidfd(pid);
    const started = Date.now();
    const woke = new Promise<number>((resolve) => addon.watch(pidfd, () => resolve(Date.now() - started)));
    closeSync(pidfd);
    t.equal(addon.reap(pid), null, 'running');
    const after = await woke;
    t.ok(after >= 250, `woken when it exited (${after} ms), not before`);
    t.same(addon.reap(pid), { code: 3, signal: null }, 'reapable when woken');
  });

  t.test('pidfd() of a child that has exited already is readable at once', async (t) => {
    const { fds } = stdio();
    const pid = addon.spawn('/bin/true', ['true'], [], dirfd, fds);
    for (const fd of fds) closeSync(fd);
    // A zombie until reaped: wait for it to exit without reaping it.
    const deadline = Date.now() + 5000;
    while (!/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const pidfd = addon.pidfd(pid);
    await new Promise<void>((resolve) => addon.watch(pidfd, () => resolve()));
    closeSync(pidfd);
    t.same(addon.reap(pid), { code: 0, signal: null });
    t.throws(() => addon.pidfd(999999999), { code: 'ESRCH' }, 'no such process');
  });

  t.test('bad arguments throw TypeError', async (t) => {
    const loose = addon as unknown as Record<'spawn' | 'reap' | 'pidfd', (...args: unknown[]) => unknown>;
    t.throws(
      () => loose.spawn('/bin/true', ['true'], [], dirfd, [0, 1, 2]),
      TypeError,
      'stdio numbers of our own',
    );
    t.throws(() => loose.spawn('/bin/true', [], [], dirfd, [3, 4, 5]), TypeError, 'empty argv');
    t.throws(
      () => loose.spawn('/bin/true', ['true', 1], [], dirfd, [3, 4, 5]),
      TypeError,
      'argv not strings',
    );
    t.throws(() => loose.spawn('/bin/true', ['true'], [], dirfd, [3, 4]), TypeError, 'two descriptors');
    t.throws(() => loose.reap(0), TypeError, 'pid 0');
    t.throws(() => loose.pidfd(0), TypeError, 'pidfd of pid 0');
    t.throws(() => loose.pidfd('1'), TypeError, 'pidfd of a string');
  });
});

t.test(
  'openBeneath() and socketpair()',
  { skip: native ? false : `no addon: ${syscallsFailure()}` },
  async (t) => {
    const addon = native!;
    const base = mkdtempSync(join(tmpdir(), 'k8psh-beneath-'));
    const outside = mkdtempSync(join(tmpdir(), 'k8psh-outside-'));
    t.teardown(() => {
      rmSync(base, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    });
    mkdirSync(join(base, 'a/b'), { recursive: true });
    writeFileSync(join(base, 'file'), '');
    symlinkSync('a', join(base, 'relative-in'));
    symlinkSync(join(base, 'a'), join(base, 'absolute-in'));
    symlinkSync(outside, join(base, 'out'));
    symlinkSync('../..', join(base, 'a/up'));
    symlinkSync('/proc/self/cwd', join(base, 'magic'));
    /** The directory a descriptor is, by its device and inode. */
    const same = (fd: number, path: string): boolean => {
      const [a, b] = [fstatSync(fd), statSync(path)];
      closeSync(fd);
      return a.ino === b.ino && a.dev === b.dev;
    };
    t.ok(same(addon.openBeneath(base, ''), base), 'the base itself');
    t.ok(same(addon.openBeneath(base, 'a/b'), join(base, 'a/b')), 'a directory inside');
    t.ok(
      same(addon.openBeneath(base, 'relative-in/b'), join(base, 'a/b')),
      'a relative symlink that stays inside',
    );
    t.throws(() => addon.openBeneath(base, 'absolute-in'), { code: 'EXDEV' }, 'an absolute symlink');
    t.throws(() => addon.openBeneath(base, 'out'), { code: 'EXDEV' }, 'a symlink leading outside');
    t.throws(() => addon.openBeneath(base, 'a/up'), { code: 'EXDEV' }, 'a relative symlink climbing out');
    t.throws(() => addon.openBeneath(base, 'magic'), { code: 'EXDEV' }, 'a /proc link (absolute)');
    t.throws(() => addon.openBeneath(base, 'nope'), { code: 'ENOENT' });
    t.throws(() => addon.openBeneath(base, 'file'), { code: 'ENOTDIR' });
    t.throws(() => addon.openBeneath(join(base, 'nope'), ''), { code: 'ENOENT' }, 'a missing base');
    const fd = addon.openBeneath(base, 'a');
    t.equal(fcntlCloseOnExec(fd), true, 'close-on-exec');
    closeSync(fd);
    // Kernels without openat2: one component at a time, no symlink at all.
    t.ok(same(addon.openBeneath(base, 'a/b', true), join(base, 'a/b')), 'walked: a directory inside');
    t.ok(same(addon.openBeneath(base, '', true), base), 'walked: the base');
    t.throws(
      () => addon.openBeneath(base, 'relative-in/b', true),
      { code: 'ELOOP' },
      'walked: a symlink inside',
    );
    t.throws(() => addon.openBeneath(base, 'out', true), { code: 'ELOOP' }, 'walked: a symlink out');
    t.throws(() => addon.openBeneath(base, 'a/nope', true), { code: 'ENOENT' });
    t.throws(() => addon.openBeneath(base, 'file', true), { code: 'ENOTDIR' });

    const [one, two] = addon.socketpair();
    writeSync(one, 'ping');
    const buffer = Buffer.alloc(8);
    t.equal(readSync(two, buffer), 4, 'a connected pair');
    t.equal(buffer.toString('utf8', 0, 4), 'ping');
    t.equal(fcntlCloseOnExec(one) && fcntlCloseOnExec(two), true, 'both close-on-exec');
    closeSync(one);
    closeSync(two);
  },
);

/** Whether fd is close-on-exec (the flags line of /proc/self/fdinfo: O_CLOEXEC is 02000000). */
function fcntlCloseOnExec(fd: number): boolean {
  const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & 0o2000000) !== 0;
}

const objdumpMissing = spawnSync('objdump', ['--version']).status !== 0;

t.test(
  'the addon needs no newer glibc than node itself',
  { skip: objdumpMissing && 'no objdump' },
  async (t) => {
    const newest = (file: string): number[] => {
      const versions = [
        ...execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 << 20 }).matchAll(
          /GLIBC_(\d+)\.(\d+)/g,
        ),
      ];
      return versions
        .map((m) => [Number(m[1]), Number(m[2])])
        .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!)
        .at(-1)!;
    };
    const addon = newest(
      new URL('../../native/syscalls/build/Release/syscalls.node', import.meta.url).pathname,
    );
    const node = newest(process.execPath);
    t.ok(
      addon[0]! < node[0]! || (addon[0] === node[0] && addon[1]! <= node[1]!),
      `addon GLIBC_${addon.join('.')}, node GLIBC_${node.join('.')}`,
    );
  },
);

t.test(
  'watch(): readiness without reading',
  { skip: native ? false : `no addon: ${syscallsFailure()}` },
  async (t) => {
    const addon = native!;
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const quiet = (ms = 50): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    /** Watches `fd`, recording every call; `next` resolves at the first. */
    const watched = (fd: number) => {
      const calls: Readiness[] = [];
      let wake!: (readiness: Readiness) => void;
      const next = new Promise<Readiness>((resolve) => (wake = resolve));
      const cancel = addon.watch(fd, (readiness) => {
        calls.push(readiness);
        wake(readiness);
      });
      return { calls, next, cancel };
    };

    t.test('fires once on data, which is left for receive()', async (t) => {
      const { clientFd, serverFd } = await socketPair(t);
      const before = openFds();
      const watch = watched(serverFd);
      t.equal(openFds(), before + 1, 'the watch holds a duplicate of the socket');
      await quiet();
      t.equal(watch.calls.length, 0, 'nothing to read: no call');
      addon.send(clientFd, Buffer.from('first'), []);
      t.same(await watch.next, { readable: true, hungUp: false, error: null });
      t.equal(openFds(), before, 'the duplicate is closed once it fired');
      addon.send(clientFd, Buffer.from('second'), []);
      await quiet();
      t.equal(watch.calls.length, 1, 'one-shot: more data, no second call');
      const buffer = Buffer.alloc(64);
      const received = addon.receive(serverFd, buffer)!;
      t.equal(buffer.toString('utf8', 0, received.bytes), 'firstsecond', 'nothing was read by the watch');
      t.equal(watch.cancel(), false, 'cancelling after it fired does nothing');
    });

    t.test('fires on hang-up, and on data already there', async (t) => {
      const hangUp = await socketPair(t);
      const watch = watched(hangUp.serverFd);
      hangUp.client.destroy();
      const readiness = await watch.next;
      t.ok(readiness.hungUp, 'hung up');
      t.equal(addon.receive(hangUp.serverFd, Buffer.alloc(8))?.bytes, 0, 'receive() sees the end');

      const early = await socketPair(t);
      addon.send(early.clientFd, Buffer.from('x'), []);
      await quiet();
      t.same(await watched(early.serverFd).next, { readable: true, hungUp: false, error: null });
    });

    t.test('never fires after cancel; cancelling twice is safe', async (t) => {
      const { client, clientFd, serverFd } = await socketPair(t);
      const before = openFds();
      const watch = watched(serverFd);
      t.equal(watch.cancel(), true, 'it was pending');
      t.equal(watch.cancel(), false, 'the second cancel does nothing');
      t.equal(openFds(), before, 'the duplicate is closed at once');
      addon.send(clientFd, Buffer.from('late'), []);
      client.end();
      await quiet(100);
      t.equal(watch.calls.length, 0, 'no call after cancel');
    });

    t.test('the peer sees the socket closed once the watch is cancelled', async (t) => {
      const { client, server, serverFd } = await socketPair(t);
      const watch = watched(serverFd);
      const ended = new Promise<void>((resolve) => client.once('end', resolve));
      watch.cancel();
      server.destroy();
      await ended;
      t.pass('end of stream at the peer');
    });

    t.test('a cancel from inside the callback, and a new watch from it', async (t) => {
      const { clientFd, serverFd } = await socketPair(t);
      let again: ReturnType<typeof watched> | null = null;
      let inner: boolean | null = null;
      const first = new Promise<void>((resolve) => {
        const cancel = addon.watch(serverFd, () => {
          inner = cancel();
          addon.receive(serverFd, Buffer.alloc(8));
          again = watched(serverFd);
          resolve();
        });
      });
      addon.send(clientFd, Buffer.from('a'), []);
      await first;
      t.equal(inner, false, 'already fired');
      addon.send(clientFd, Buffer.from('b'), []);
      t.same(await again!.next, { readable: true, hungUp: false, error: null }, 'the new watch fires');
    });

    t.test('many at once: each fires once, for its own socket', async (t) => {
      const count = 200;
      const path = `\0k8psh-test-${process.pid}-many`;
      const listener = createServer({ pauseOnConnect: true });
      await new Promise<void>((resolve) => listener.listen({ path, exclusive: true }, () => resolve()));
      const accepted: Socket[] = [];
      const all = new Promise<void>((resolve) =>
        listener.on('connection', (socket) => accepted.push(socket) === count && resolve()),
      );
      const clients = Array.from({ length: count }, () => connect({ path }));
      t.teardown(() => {
        for (const socket of [...clients, ...accepted]) socket.destroy();
        listener.close();
      });
      await all;
      const before = openFds();
      const fired: number[] = [];
      const watches = accepted.map((socket, i) =>
        addon.watch(fdOf(socket), (readiness) => readiness.readable && fired.push(i)),
      );
      t.equal(openFds(), before + count);
      // Half are cancelled, the other half written to, from the other end (clients are in connect order,
      // accepted ones in accept order: match them by what arrives).
      for (let i = 0; i < count; i += 2) watches[i]!();
      for (const client of clients) client.write('x');
      const deadline = Date.now() + 5000;
      while (fired.length < count / 2 && Date.now() < deadline) await quiet(10);
      await quiet();
      t.same(
        fired.sort((a, b) => a - b),
        Array.from({ length: count / 2 }, (_, i) => 2 * i + 1),
        'exactly the uncancelled ones, once each',
      );
      t.equal(openFds(), before, 'no duplicate left');
    });

    t.test('what cannot be watched is refused', async (t) => {
      const dir = tempDir(t);
      writeFileSync(join(dir, 'file'), 'x');
      const file = open(t, join(dir, 'file'), 'r');
      const before = openFds();
      t.throws(() => addon.watch(file, () => {}), { code: 'EPERM' }, 'a regular file');
      t.throws(() => addon.watch(987654, () => {}), { code: 'EBADF' }, 'not a descriptor');
      t.equal(openFds(), before, 'nothing left open');
      const loose = syscallsAddon() as Record<'watch' | 'unwatch', (...args: unknown[]) => unknown>;
      t.throws(() => loose.watch('3', () => {}), TypeError, 'fd not a number');
      t.throws(() => loose.watch(-1, () => {}), TypeError, 'negative fd');
      t.throws(() => loose.watch(file, 'callback'), TypeError, 'callback not a function');
      t.throws(() => loose.unwatch({}), TypeError, 'not a handle');
      t.throws(() => loose.unwatch(), TypeError, 'no handle');
    });
  },
);

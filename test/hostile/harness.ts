/**
 * Hostile peers against a real k8pshd: raw sockets with hand-made frames, and
 * what the server process looks like from /proc (RSS, descriptors, zombies).
 *
 * The executable under test is K8PSH_TEST_DIST/k8psh (default: the repo's
 * dist/), so a private build can be tested while others use dist/.
 */
import type { SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { FrameType, localSocketPath } from '../../src/protocol/constants.js';
import { syscalls, syscallsFailure } from '../../src/native/syscalls.js';
import { parseFrames, stringFrame, type Frame } from '../lib/frames.mjs';
import {
  ROOT,
  sleep,
  startServer as startE2eServer,
  makeWorkspace as makeE2eWorkspace,
  type Server,
  type TeardownHost,
  type Workspace,
} from '../e2e/harness.js';

export const DIST = resolve(process.env.K8PSH_TEST_DIST ?? join(ROOT, 'dist'));
export const BIN = join(DIST, 'k8psh');
export const DAEMON = join(DIST, 'k8pshd');
export const SKIP_UNBUILT = existsSync(BIN) ? false : `${BIN} is missing: run npm run build`;

export const MiB = 1024 * 1024;
/** The bound for the server's resident memory under every hostile load. */
export const RSS_LIMIT = 150 * MiB;

// --- frames ---------------------------------------------------------------

/** Frame types, by their protocol names. */
export const T = FrameType;

export { parseFrames, stringFrame, valueFrame, type Frame } from '../lib/frames.mjs';

/** HELLO as a new client sends it: magic "k8p2", version 1, features 7. */
export function hello(version = 1, features = 7): Buffer {
  const payload = Buffer.alloc(10);
  payload.writeUInt32LE(0x3270386b, 0);
  payload.writeUInt16LE(version, 4);
  payload.writeUInt32LE(features, 6);
  return stringFrame(T.HELLO, payload);
}

/** WORKING_DIRECTORY, arguments, variables and START_COMMAND, in the original client's order. */
export function request(
  command: string,
  options: { cwd?: string | Buffer; args?: string[]; env?: string[] } = {},
): Buffer {
  return Buffer.concat([
    stringFrame(T.WORKING_DIRECTORY, options.cwd ?? ''),
    ...(options.args ?? []).map((arg) => stringFrame(T.COMMAND_ARGUMENT, arg)),
    ...(options.env ?? []).map((v) => stringFrame(T.ENVIRONMENT_VARIABLE, v)),
    stringFrame(T.START_COMMAND, command),
  ]);
}

export interface Conversation {
  frames: Frame[];
  raw: Buffer;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** Milliseconds from connect to close (or to the give-up time). */
  ms: number;
  error?: string;
}

export interface ConverseOptions {
  /** Give up waiting for the close after this long (the connection is then destroyed). */
  timeoutMs?: number;
  /** Bytes written later, one write each, this many ms apart. */
  later?: Buffer[];
  laterDelayMs?: number;
  /** Half-close our side after writing (the original client never does; default false). */
  endAfterWrite?: boolean;
  /** Connect to this local socket path instead of 127.0.0.1:port. */
  path?: string;
  /** How the first bytes go out (default: one write), e.g. with descriptors. */
  sendFirst?: (socket: Socket, bytes: Buffer) => void;
  /** Called once the first bytes are sent. */
  onSent?: (socket: Socket) => void;
  /** Close our end right after sending (or at once, with no bytes). */
  closeAtOnce?: boolean;
}

/** Connects, writes `bytes` in ONE write (or `sendFirst`), collects everything until the server closes. */
export async function converse(
  port: number,
  bytes: Buffer,
  options: ConverseOptions = {},
): Promise<Conversation> {
  const started = Date.now();
  const socket = options.path ? connect({ path: options.path }) : connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<boolean>((resolveClose) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolveClose(false);
    }, options.timeoutMs ?? 15000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolveClose(true);
    });
  });
  await new Promise<void>((resolveConnect) => {
    socket.once('connect', () => resolveConnect());
    socket.once('error', () => resolveConnect());
  });
  if (!socket.destroyed) {
    if (bytes.length > 0) (options.sendFirst ?? ((s, b) => s.write(b)))(socket, bytes);
    options.onSent?.(socket);
    if (options.closeAtOnce) socket.destroy();
    void (async () => {
      for (const piece of options.later ?? []) {
        await sleep(options.laterDelayMs ?? 50);
        if (socket.destroyed) return;
        socket.write(piece);
      }
      if (options.endAfterWrite && !socket.destroyed) socket.end();
    })();
  }
  const wasClosed = await closed;
  const raw = Buffer.concat(chunks);
  return { frames: parseFrames(raw).frames, raw, closed: wasClosed, ms: Date.now() - started, error };
}

/** The descriptor behind a net.Socket (for sendmsg with SCM_RIGHTS). */
export function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no descriptor');
  return fd;
}

export interface LocalOptions extends Omit<ConverseOptions, 'path' | 'sendFirst'> {
  /** Descriptors sent with the first bytes. */
  fds?: number[];
}

/**
 * converse() on the server's local socket, the first bytes sent with `fds` in ONE sendmsg (the rest
 * of them, if the kernel took fewer, written after). Needs the syscalls addon.
 */
export function converseLocal(
  port: number,
  bytes: Buffer,
  options: LocalOptions = {},
): Promise<Conversation> {
  const native = syscalls();
  if (!native) throw new Error(`converseLocal needs the syscalls addon: ${syscallsFailure()}`);
  return converse(port, bytes, {
    ...options,
    path: localSocketPath(port),
    sendFirst: (socket, first) => {
      const sent = native.send(fdOf(socket), first, options.fds ?? []);
      if (sent < first.length) socket.write(first.subarray(sent));
    },
  });
}

/** What a refusal looked like, for assertions. */
export interface Refusal {
  message: string;
  code: number | undefined;
  /** Frame types in order, e.g. [0x40, 0x41, 8]. */
  types: number[];
}

export function refusal(conversation: Conversation): Refusal {
  const { frames } = conversation;
  const error = frames.find((f) => f.type === T.ERROR);
  const stderr = frames.filter((f) => f.type === T.STDERR_DATA && f.payload);
  const message = error ? error.payload!.toString() : Buffer.concat(stderr.map((f) => f.payload!)).toString();
  const exit = frames.find((f) => f.type === T.EXIT_CODE);
  return { message, code: exit?.value, types: frames.map((f) => f.type) };
}

// --- the server ---------------------------------------------------------------

/**
 * Starts k8pshd (from DIST; or `file`, which execs it) and waits until its port accepts connections;
 * with `options.test`, it is SIGKILLed in that test's teardown if it still runs (../e2e/harness.ts).
 */
export function startServer(
  args: readonly string[],
  port: number,
  options: SpawnOptions & { test?: TeardownHost } = {},
  file = DAEMON,
): Promise<Server> {
  return startE2eServer(args, port, options, file, 20000);
}

export type { Workspace } from '../e2e/harness.js';

/** A config file in a fresh directory, and stubs made by `k8pshd -e` (from DIST). */
export function makeWorkspace(configText: string, options: { stubs?: boolean } = {}): Promise<Workspace> {
  return makeE2eWorkspace(configText, { ...options, prefix: 'k8psh-hostile-', daemon: DAEMON });
}

// --- /proc ---------------------------------------------------------------

/** Resident memory in bytes (VmRSS). */
export function rss(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Process ids whose parent is `pid` and whose state is Z. */
export function zombies(pid: number): number[] {
  return children(pid)
    .filter((c) => c.state === 'Z')
    .map((c) => c.pid);
}

export function children(pid: number): { pid: number; state: string }[] {
  const found: { pid: number; state: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push({ pid: Number(entry), state: fields[0]! });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Polls until `check` is true or the time is up; returns the last result. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  every = 50,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(every);
  }
}

/** A deterministic byte generator (xorshift32), so a failing random input can be replayed. */
export function randomBytes(seed: number, length: number): Buffer {
  let x = seed >>> 0 || 1;
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

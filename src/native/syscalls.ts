/**
 * Our addon native/syscalls: the system calls k8psh needs and Node does not offer (native/syscalls/
 * module.c lists them). Chief among them SCM_RIGHTS over a local socket, which Node offers only on
 * its own child-process IPC channel: a client hands its stdin/stdout/stderr to the server, and the
 * remote command reads and writes them directly (docs/protocol.md, "Passed descriptors"); then the
 * server's vfork-style spawn, openat2 beneath the base, peer credentials (docs/security.md), terminal
 * modes and readiness without reading.
 *
 * In the single executable the addon travels as the SEA asset `syscalls.node` and goes through the
 * private cache (./cache.ts, its digest computed at build time); from the sources, or a bundle run by
 * plain node, it is `native/syscalls/build/Release/syscalls.node` of the source tree. When it cannot
 * be loaded, `syscalls()` is null and k8psh relays the streams over the socket instead.
 */
import { isSea, getRawAsset } from 'node:sea';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { packageVersion } from '../version.js';
import { fileURLToPath } from 'node:url';
import { SYSCALLS_ASSET } from '../bundle.js';
import { defaultDlopen, loadNative } from './cache.js';

declare const __K8PSH_BUNDLED__: boolean | undefined;
declare const __K8PSH_NATIVE_DIGESTS__: Record<string, string> | undefined;

const SOURCE_BUILD = '../../native/syscalls/build/Release/syscalls.node';

interface Addon {
  connect(path: string): number;
  isatty(fd: number): boolean;
  hungup(fd: number): boolean;
  dup(fd: number): number;
  peeruid(fd: number): number;
  send(socketFd: number, data: Buffer, fds: number[]): number;
  receive(socketFd: number, buffer: Buffer): [number, number[]] | number | null;
  socketpair(): [number, number] | number;
  spawn(file: string, argv: string[], env: string[], dirfd: number, fds: number[]): number;
  openbeneath(base: string, relative: string, walk?: boolean): number;
  reap(pid: number): number | null;
  pidfd(pid: number): number;
  setname(name: string): void;
  subreaper(): number;
  getmodes(fd: number): Buffer | number;
  setmodes(fd: number, modes: Buffer): number;
  rawoutput(fd: number): number;
  watch(fd: number, callback: (events: number) => void): object | number;
  unwatch(handle: object): boolean;
  trim(): boolean;
}

/** What woke a {@link Syscalls.watch}: data or a hang-up to read, or an error of the poll itself. */
export interface Readiness {
  readable: boolean;
  hungUp: boolean;
  error: NodeJS.ErrnoException | null;
}

/** How a process ended: one of the two is set, as in Node's 'exit' event. */
export interface Ending {
  code: number | null;
  signal: number | null;
}

export interface Syscalls {
  /** A connected, blocking local stream socket (close-on-exec); throws ECONNREFUSED, ENOENT, ... */
  connect(path: string): number;
  isatty(fd: number): boolean;
  /** The socket's peer is gone for good (POLLHUP or POLLERR, nothing read): native/syscalls/sockets.c. */
  hungUp(fd: number): boolean;
  /** A close-on-exec duplicate of `fd`, above 2; throws (EBADF, EMFILE). */
  dup(fd: number): number;
  /** The uid of the listener a connected local socket reached (SO_PEERCRED); throws (ENOTSOCK, ...). */
  peerUid(fd: number): number;
  /** One sendmsg of `data` with `fds`: the bytes sent (possibly fewer); throws on an error. */
  send(socketFd: number, data: Buffer, fds: number[]): number;
  /** One recvmsg into `buffer`: bytes and descriptors, or null when nothing has arrived yet. */
  receive(socketFd: number, buffer: Buffer): { bytes: number; fds: number[] } | null;
  /** A connected pair of close-on-exec stream sockets (a relayed command's stdio); throws (EMFILE, ...). */
  socketpair(): [number, number];
  /**
   * Starts `file` (a vfork-style clone, not posix_spawn: native/syscalls/spawn.c) in the directory
   * `dirfd` (fchdir) on `fds` as its 0, 1, 2, in a new session, signals at their defaults; the pid.
   * Throws as Node's spawn would (code ENOENT, EACCES, ...). Reap it with reap().
   */
  spawn(file: string, argv: string[], env: string[], dirfd: number, fds: readonly number[]): number;
  /**
   * `relative` (normalised: no `..`, not absolute; '' for the base itself) opened beneath `base`
   * with openat2 RESOLVE_BENEATH (native/syscalls/beneath.c): an O_PATH close-on-exec descriptor.
   * Throws EXDEV (a symlink leads out), ELOOP, ENOENT, ENOTDIR, EACCES, ... `walk`: the fallback of
   * kernels without openat2 (no symlink at all), for its tests.
   */
  openBeneath(base: string, relative: string, walk?: boolean): number;
  /** waitpid(pid, WNOHANG): null while it runs. */
  reap(pid: number): Ending | null;
  /**
   * pidfd_open(pid): a close-on-exec descriptor that turns readable once the process has exited
   * (watch it); throws (ENOSYS before Linux 5.3, ESRCH).
   */
  pidfd(pid: number): number;
  /** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants become our children; throws (EINVAL). */
  subreaper(): void;
  /**
   * Calls `onReady` once, from the event loop, when `fd` (a socket or pipe) has something to read
   * or its peer hung up, without reading it (native/syscalls/watch.c); the watch holds a duplicate of
   * `fd` until then. The function returned cancels it (true if it was still pending, false after it
   * fired or was cancelled): cancel before closing `fd`, or its peer does not see it closed.
   */
  watch(fd: number, onReady: (readiness: Readiness) => void): () => boolean;
  /** tcgetattr: the terminal's modes as an opaque struct termios; throws (ENOTTY, EBADF, ...). */
  getModes(fd: number): Buffer;
  /** tcsetattr(TCSADRAIN) with SIGTTOU blocked (allowed from the background); throws. */
  setModes(fd: number, modes: Buffer): void;
  /** Output processing (OPOST) off; throws. */
  rawOutput(fd: number): void;
  /**
   * malloc_trim(0): the C allocator's free memory given back to the system (native/syscalls/trim.c);
   * true when some was. Blocks for up to tens of milliseconds: for an idle moment only.
   */
  trimMemory(): boolean;
}

let loaded: Syscalls | null | undefined;
let failure: string | undefined;

/** The addon, loaded once; null when it cannot be (see {@link syscallsFailure}). */
export function syscalls(): Syscalls | null {
  if (loaded === undefined) {
    try {
      const addon = load();
      // In the executable: ps shows the invoked name (k8pshd, gcc), not Node 24's "MainThread".
      if (isSea()) addon.setname(basename(process.argv[1] ?? 'k8psh'));
      loaded = wrap(addon);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      loaded = null;
    }
  }
  return loaded;
}

/** Why {@link syscalls} is null. */
export function syscallsFailure(): string | undefined {
  return failure;
}

function load(): Addon {
  const bundled = typeof __K8PSH_BUNDLED__ !== 'undefined' && __K8PSH_BUNDLED__;
  if (!bundled || !isSea())
    return defaultDlopen(fileURLToPath(new URL(SOURCE_BUILD, import.meta.url))) as Addon;
  const raw = getRawAsset(SYSCALLS_ASSET);
  const digest =
    typeof __K8PSH_NATIVE_DIGESTS__ === 'undefined' ? undefined : __K8PSH_NATIVE_DIGESTS__[SYSCALLS_ASSET];
  if (digest === undefined) throw new Error(`no digest for ${SYSCALLS_ASSET}`);
  return loadNative({
    name: SYSCALLS_ASSET,
    data: typeof raw === 'string' ? Buffer.from(raw, 'latin1') : new Uint8Array(raw),
    digest,
    version: packageVersion(),
  }).exports as Addon;
}

function wrap(addon: Addon): Syscalls {
  return {
    connect(path) {
      const fd = addon.connect(path);
      if (fd < 0) throw systemError(fd, 'connect');
      return fd;
    },
    isatty: (fd) => addon.isatty(fd),
    hungUp: (fd) => addon.hungup(fd),
    dup(fd) {
      const copy = addon.dup(fd);
      if (copy < 0) throw systemError(copy, 'fcntl F_DUPFD_CLOEXEC');
      return copy;
    },
    peerUid(fd) {
      const uid = addon.peeruid(fd);
      if (uid < 0) throw systemError(uid, 'getsockopt SO_PEERCRED');
      return uid;
    },
    send(socketFd, data, fds) {
      const sent = addon.send(socketFd, data, fds);
      if (sent < 0) throw systemError(sent, 'sendmsg');
      return sent;
    },
    receive(socketFd, buffer) {
      const result = addon.receive(socketFd, buffer);
      if (result === null) return null;
      if (typeof result === 'number') throw systemError(result, 'recvmsg');
      return { bytes: result[0], fds: result[1] };
    },
    socketpair() {
      const pair = addon.socketpair();
      if (typeof pair === 'number') throw systemError(pair, 'socketpair');
      return pair;
    },
    spawn(file, argv, env, dirfd, fds) {
      const pid = addon.spawn(file, argv, env, dirfd, [...fds]);
      if (pid < 0) throw systemError(pid, `spawn ${file}`);
      return pid;
    },
    openBeneath(base, relative, walk) {
      const fd =
        walk === undefined ? addon.openbeneath(base, relative) : addon.openbeneath(base, relative, walk);
      if (fd < 0) throw systemError(fd, 'openat2');
      return fd;
    },
    reap(pid) {
      const status = addon.reap(pid);
      if (status === null) return null;
      if (status < 0) throw systemError(status, 'waitpid');
      return status < 256 ? { code: status, signal: null } : { code: null, signal: status - 256 };
    },
    pidfd(pid) {
      const fd = addon.pidfd(pid);
      if (fd < 0) throw systemError(fd, 'pidfd_open');
      return fd;
    },
    subreaper() {
      const result = addon.subreaper();
      if (result < 0) throw systemError(result, 'prctl');
    },
    watch(fd, onReady) {
      const handle = addon.watch(fd, (events) =>
        onReady(
          events < 0
            ? { readable: false, hungUp: false, error: systemError(events, 'poll') }
            : { readable: (events & 1) !== 0, hungUp: (events & 2) !== 0, error: null },
        ),
      );
      if (typeof handle === 'number') throw systemError(handle, 'watch');
      return () => addon.unwatch(handle);
    },
    getModes(fd) {
      const modes = addon.getmodes(fd);
      if (typeof modes === 'number') throw systemError(modes, 'tcgetattr');
      return modes;
    },
    setModes(fd, modes) {
      const result = addon.setmodes(fd, modes);
      if (result < 0) throw systemError(result, 'tcsetattr');
    },
    rawOutput(fd) {
      const result = addon.rawoutput(fd);
      if (result < 0) throw systemError(result, 'tcsetattr');
    },
    trimMemory: () => addon.trim(),
  };
}

function systemError(negativeErrno: number, syscall: string): NodeJS.ErrnoException {
  // os.constants.errno, not util.getSystemErrorName: that knows only libuv's codes (no ECHILD).
  const code =
    Object.entries(constants.errno).find(([, number]) => number === -negativeErrno)?.[0] ??
    `E${-negativeErrno}`;
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  error.code = code;
  error.errno = negativeErrno;
  error.syscall = syscall;
  return error;
}

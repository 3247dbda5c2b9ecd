/**
 * A Kubernetes Pod built by hand from Linux parts, the way a container runtime builds one.
 *
 * - The Pod: one network namespace (`ip netns add`, loopback up) shared by every container, and a
 *   sandbox ("pause") process that holds the Pod-level mounts: the emptyDir is a tmpfs mounted in
 *   the sandbox's private mount namespace, so it vanishes with the sandbox and never touches the
 *   host's mount table.
 * - A container: its own mount, PID and UTS namespaces (`unshare --mount --pid --uts --fork
 *   --kill-child --propagation private`), entered from the sandbox's mount namespace and the Pod's
 *   network namespace (`nsenter`). A small sh script then sets the hostname, mounts /proc, a minimal
 *   /dev (device nodes, its own devpts instance), a tmpfs /tmp and the volumes inside the root, and
 *   `chroot`s into the root with exactly the container's environment.
 * - `exec` enters a running container (`nsenter --target <its PID 1> --mount --uts --pid --net
 *   --root --wd`), as `kubectl exec` does.
 *
 * Every long-lived process is started under `setpriv --pdeathsig KILL`: if the test process dies
 * without cleaning up, the `unshare` processes get SIGKILL, and `--kill-child` takes PID 1 of the
 * container (and with it the whole PID namespace) down too.
 *
 * Needs root, util-linux (unshare, nsenter, setpriv), iproute2 (ip) and coreutils (chroot, env).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as pty from 'node-pty';
import { run, sleep, type Result } from '../e2e/harness.js';

/** The host's programs used to build the Pod, found on a root PATH. */
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function which(program: string): string | undefined {
  for (const dir of HOST_PATH.split(':')) {
    const file = join(dir, program);
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Why a Pod cannot be built on this machine, or false when it can. */
export function podUnsupported(): string | false {
  if (process.platform !== 'linux') return 'a Pod needs Linux namespaces';
  if (process.getuid?.() !== 0) return 'a Pod needs root (ip netns, unshare, mount, chroot)';
  const missing = ['ip', 'unshare', 'nsenter', 'setpriv', 'chroot', 'env', 'mount', 'mknod', 'ldd'].filter(
    (program) => which(program) === undefined,
  );
  if (missing.length > 0)
    return `missing programs: ${missing.join(', ')} (apt-get install iproute2 util-linux)`;
  return false;
}

const tool = (program: string): string => {
  const file = which(program);
  if (!file) throw new Error(`${program} is not installed`);
  return file;
};

/** POSIX shell single-quoting. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// Root filesystems ("images")

/** An empty root with the mount points every container gets (/proc, /dev, /tmp). */
export function makeRoot(dir: string, extraDirs: readonly string[] = []): string {
  for (const sub of ['proc', 'dev', 'tmp', ...extraDirs]) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

/**
 * A scratch image's root: only the mount points the runtime itself needs (/proc, /dev), no /tmp
 * (use with `tmp: false`), plus the given directories.
 */
export function scratchRoot(dir: string, extraDirs: readonly string[] = []): string {
  for (const sub of ['proc', 'dev', ...extraDirs]) mkdirSync(join(dir, sub), { recursive: true });
  return dir;
}

/** The shared libraries `ldd` lists for an executable, including the dynamic loader (absolute paths). */
export function sharedLibraries(executable: string): string[] {
  const result = spawnSync(tool('ldd'), [executable], { encoding: 'utf8' });
  if (result.status !== 0) {
    // Static executables: "not a dynamic executable".
    if (/not a dynamic executable|statically linked/.test(result.stdout + result.stderr)) return [];
    throw new Error(`ldd ${executable} failed: ${result.stderr}`);
  }
  const files = new Set<string>();
  for (const line of result.stdout.split('\n')) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) files.add(match[1]);
  }
  return [...files];
}

/** Copies the C runtime an executable needs (what `ldd` lists, plus the loader) into a root, at the same paths. */
export function copyLibraries(root: string, executable: string): string[] {
  const copied: string[] = [];
  for (const file of sharedLibraries(executable)) {
    const target = join(root, file);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target); // follows symlinks: the real library under the link's name
    copied.push(file);
  }
  return copied;
}

/** A busybox userland in /bin (busybox itself plus one symlink per applet). Returns the applets. */
export function installBusybox(root: string, busybox = which('busybox')): string[] {
  if (!busybox) throw new Error('busybox is not installed (apt-get install busybox-static)');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  copyLibraries(root, busybox); // none for busybox-static
  const list = spawnSync(busybox, ['--list'], { encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`busybox --list failed: ${list.stderr}`);
  const applets = list.stdout.split('\n').filter((name) => name && name !== 'busybox');
  for (const applet of applets) {
    const link = join(root, 'bin', applet);
    if (!existsSync(link)) symlinkSync('busybox', link);
  }
  return applets;
}

/**
 * A root that shares the host's /usr and /etc (read-only bind mounts): the host's toolchain as
 * the container's "image". The top-level links of a usr-merged system (/bin -> usr/bin, ...) are
 * recreated; on a system that is not usr-merged those directories are bind-mounted instead.
 */
export function hostSystemRoot(root: string): Mount[] {
  makeRoot(root);
  const mounts: Mount[] = [
    { source: '/usr', target: '/usr', readOnly: true },
    { source: '/etc', target: '/etc', readOnly: true },
  ];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    let stat;
    try {
      stat = lstatSync(`/${name}`);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(`/${name}`), join(root, name));
    else if (stat.isDirectory()) mounts.push({ source: `/${name}`, target: `/${name}`, readOnly: true });
  }
  return mounts;
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface Mount {
  /** A host path (file or directory). */
  source: string;
  /** The path inside the container. */
  target: string;
  readOnly?: boolean;
}

export interface ContainerSpec {
  /** Container name; also its hostname (own UTS namespace). */
  name: string;
  /** Its root filesystem (a host directory). */
  root: string;
  /** Volumes and image files bind-mounted into the root. */
  mounts?: Mount[];
  /** The container's whole environment (nothing of the test's leaks in). */
  env?: Record<string, string>;
  /** argv of its main process, PID 1 of the container (looked up on env.PATH inside the root). */
  command: string[];
  /** `UID:GID` its main process runs as (an image's numeric USER); root by default. */
  user?: string;
  /**
   * Whether the runtime gives it a tmpfs /tmp (default true, for convenience). False for a faithful
   * scratch image: Kubernetes mounts no /tmp, and a scratch image has none.
   */
  tmp?: boolean;
  /** securityContext.readOnlyRootFilesystem: the root is a read-only bind mount (volumes stay as asked). */
  readOnlyRoot?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running process tree we started: its output, its exit. */
class Launched {
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  private text = '';
  private out = '';
  private done = false;

  constructor(file: string, args: string[], env: NodeJS.ProcessEnv) {
    // setpriv: if the test process dies, the kernel SIGKILLs this process; unshare --kill-child
    // then SIGKILLs PID 1 of the namespace, which ends every process in it.
    this.process = spawn(tool('setpriv'), ['--pdeathsig', 'KILL', '--', file, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      this.text += chunk.toString();
    };
    this.process.stdout!.on('data', (chunk: Buffer) => {
      this.out += chunk.toString();
      collect(chunk);
    });
    this.process.stderr!.on('data', collect);
    this.exited = new Promise<Exit>((resolve) => {
      this.process.on('error', (error) => {
        this.text += `spawn error: ${error.message}\n`;
        this.done = true;
        resolve({ code: null, signal: null });
      });
      this.process.on('close', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error('not started');
    return this.process.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Everything written to stdout and stderr so far. */
  output(): string {
    return this.text;
  }

  /** What was written to stdout alone. */
  stdout(): string {
    return this.out;
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (this.done) throw new Error(`exited before printing ${pattern}: ${this.text}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${this.text}`);
      await sleep(20);
    }
  }

  /** SIGKILL the outer process (unshare): its namespace dies with it. */
  async kill(): Promise<Exit> {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    return this.exited;
  }
}

/** Host pids of the direct children of a process. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

/**
 * The host pid of the process that is PID 1 of a new PID namespace somewhere below `pid`, or 0 when
 * `running()` turns false first (the process tree ended).
 */
async function findNamespaceInit(pid: number, running: () => boolean, timeoutMs = 10000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queue = [pid];
    while (queue.length > 0) {
      const current = queue.shift()!;
      try {
        const status = readFileSync(`/proc/${current}/status`, 'utf8');
        const nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/) ?? [];
        if (nspid.length > 1 && nspid[nspid.length - 1] === '1') return current;
      } catch {
        // Gone meanwhile.
      }
      queue.push(...childrenOf(current));
    }
    if (!running()) return 0;
    if (Date.now() > deadline) throw new Error(`no PID namespace init below pid ${pid}`);
    await sleep(10);
  }
}

export interface ExecOptions {
  /** Working directory inside the container (default /). */
  cwd?: string;
  /** Variables added to (or overriding) the container's environment. */
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

export class Container {
  /** Host pid of the container's PID 1 (its main process), once known. */
  initPid = 0;

  constructor(
    readonly spec: ContainerSpec,
    readonly launched: Launched,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get exited(): Promise<Exit> {
    return this.launched.exited;
  }

  get running(): boolean {
    return this.launched.running;
  }

  output(): string {
    return this.launched.output();
  }

  /** Its main process's stdout alone (the output above mixes in stderr). */
  stdout(): string {
    return this.launched.stdout();
  }

  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void> {
    return this.launched.waitForOutput(pattern, timeoutMs);
  }

  /** The environment a process exec'd into this container gets. */
  environment(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.spec.env ?? {}), ...extra };
  }

  /**
   * nsenter's program and arguments to run `command` inside this container (same namespaces,
   * same root), like `kubectl exec`. The caller passes `environment()` as the environment: nsenter
   * is run by absolute path and execs `command` on that environment's PATH, inside the root.
   */
  execArgv(command: readonly string[], cwd = '/'): { file: string; args: string[] } {
    if (!this.initPid || !this.running)
      throw new Error(`container ${this.name} is not running: ${this.output()}`);
    const inDirectory =
      cwd === '/' ? [...command] : ['/bin/sh', '-c', `cd ${shq(cwd)} && exec "$@"`, 'sh', ...command];
    return {
      file: tool('nsenter'),
      args: [
        `--target=${this.initPid}`,
        '--mount',
        '--uts',
        '--pid',
        '--net',
        '--root',
        '--wd',
        '--',
        ...inDirectory,
      ],
    };
  }

  /** Runs a command inside the running container and collects its output. */
  exec(command: readonly string[], options: ExecOptions = {}): Promise<Result> {
    const { file, args } = this.execArgv(command, options.cwd);
    return run(file, args, {
      env: this.environment(options.env),
      input: options.input,
      timeoutMs: options.timeoutMs ?? 30000,
    });
  }

  /** Sends a signal to the container's PID 1, as the kubelet does to stop it (SIGTERM). */
  signal(signal: NodeJS.Signals): void {
    if (this.initPid && this.running) process.kill(this.initPid, signal);
  }

  /** SIGTERM to PID 1, then SIGKILL after `graceMs` (terminationGracePeriodSeconds). */
  async stop(graceMs = 10000): Promise<Exit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => void this.launched.kill(), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** SIGKILL the container's unshare: its PID 1 and so the whole PID namespace die. */
  kill(): Promise<Exit> {
    return this.launched.kill();
  }
}

/** The sh script run inside the container's fresh namespaces, before chroot. */
function setupScript(spec: ContainerSpec): string {
  const root = spec.root;
  const r = (path: string): string => shq(join(root, path));
  const lines = [
    'set -eu',
    // The UTS namespace is new: this names this container only.
    `printf %s ${shq(spec.name)} > /proc/sys/kernel/hostname`,
    // A read-only root first: the mounts below go on top of it, as the runtime's do.
    ...(spec.readOnlyRoot
      ? [`mount --bind ${shq(root)} ${shq(root)}`, `mount -o remount,bind,ro ${shq(root)}`]
      : []),
    // The PID namespace is new and this shell is its PID 1: this /proc shows the container's processes.
    `mount -t proc -o nosuid,nodev,noexec proc ${r('proc')}`,
    // A minimal /dev, as runtimes create it, with a private devpts instance.
    `mount -t tmpfs -o nosuid,mode=0755,size=64k dev ${r('dev')}`,
    `mknod -m 0666 ${r('dev/null')} c 1 3`,
    `mknod -m 0666 ${r('dev/zero')} c 1 5`,
    `mknod -m 0666 ${r('dev/full')} c 1 7`,
    `mknod -m 0666 ${r('dev/random')} c 1 8`,
    `mknod -m 0666 ${r('dev/urandom')} c 1 9`,
    `mknod -m 0666 ${r('dev/tty')} c 5 0`,
    `mkdir -m 0755 ${r('dev/pts')}`,
    `mkdir -m 1777 ${r('dev/shm')}`,
    `mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts ${r('dev/pts')}`,
    `ln -s pts/ptmx ${r('dev/ptmx')}`,
    `ln -s /proc/self/fd ${r('dev/fd')}`,
    `ln -s /proc/self/fd/0 ${r('dev/stdin')}`,
    `ln -s /proc/self/fd/1 ${r('dev/stdout')}`,
    `ln -s /proc/self/fd/2 ${r('dev/stderr')}`,
  ];
  if (spec.tmp !== false) lines.push(`mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m tmp ${r('tmp')}`);
  for (const mount of spec.mounts ?? []) {
    lines.push(`mount --bind ${shq(mount.source)} ${r(mount.target)}`);
    if (mount.readOnly) lines.push(`mount -o remount,bind,ro ${r(mount.target)}`);
  }
  const env = Object.entries(spec.env ?? {}).map(([name, value]) => shq(`${name}=${value}`));
  const user = spec.user === undefined ? '' : ` --userspec=${shq(spec.user)} --groups=''`;
  lines.push(
    `exec ${tool('env')} -i ${env.join(' ')} ${tool('chroot')}${user} ${shq(root)} ${spec.command.map(shq).join(' ')}`,
  );
  return lines.join('\n');
}

/** Creates the mount points of the spec's volumes inside its root (files for file mounts). */
function prepareMountPoints(spec: ContainerSpec): void {
  for (const mount of spec.mounts ?? []) {
    const target = join(spec.root, mount.target);
    if (statSync(mount.source).isDirectory()) mkdirSync(target, { recursive: true });
    else if (!existsSync(target)) {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, '');
    }
  }
}

/** Signals after which the Pod is torn down synchronously (a test killed by tap's timeout). */
const CLEANUP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export interface LeftOvers {
  /** `ip netns pids` of the Pod network: processes still in it. */
  netnsPids: number[];
  /** Whether the named network namespace still exists. */
  netnsExists: boolean;
  /** Lines of this process's /proc/self/mountinfo that mention the Pod directory. */
  mounts: string[];
  /** Processes whose command line mentions the Pod directory. */
  processes: string[];
  /** Whether the Pod directory still exists. */
  directoryExists: boolean;
}

export class Pod {
  /** Name of the network namespace (`ip netns`). */
  readonly name: string;
  /** Host directory holding the roots, the workspace and the emptyDir mount point. */
  readonly dir: string;
  /** The emptyDir: a tmpfs, visible only in the sandbox's mount namespace and the containers'. */
  readonly emptyDir: string;
  /** A shared workspace volume (a plain host directory). */
  readonly workspace: string;
  private sandbox: Launched | undefined;
  private sandboxInit = 0;
  private readonly containers: Container[] = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroySync();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroySync();
    // Nobody else handles it: die of it, as without our handler.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private constructor(name: string, dir: string) {
    this.name = name;
    this.dir = dir;
    this.emptyDir = join(dir, 'volumes/k8psh-bin');
    this.workspace = join(dir, 'volumes/workspace');
    mkdirSync(this.emptyDir, { recursive: true });
    mkdirSync(this.workspace, { recursive: true });
  }

  /** Network namespace with loopback up, plus the sandbox holding the emptyDir tmpfs. */
  static async create(options: { emptyDirSize?: string } = {}): Promise<Pod> {
    const name = `k8psh-pod-${randomBytes(4).toString('hex')}`;
    const pod = new Pod(name, mkdtempSync(join(tmpdir(), 'k8psh-pod-')));
    process.once('exit', pod.onExit);
    for (const signal of CLEANUP_SIGNALS) process.once(signal, pod.onSignal);
    try {
      await pod.host(['ip', 'netns', 'add', name]);
      await pod.host(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
      const size = options.emptyDirSize ?? '256m';
      pod.sandbox = new Launched(
        tool('ip'),
        [
          'netns',
          'exec',
          name,
          tool('unshare'),
          '--mount',
          '--pid',
          '--fork',
          '--kill-child',
          '--propagation',
          'private',
          tool('sh'),
          '-c',
          // emptyDir { medium: Memory, sizeLimit }: a tmpfs in the sandbox's mount namespace, mode 0777 as
          // the kubelet makes it (a non-root init container writes into it).
          `mount -t tmpfs -o size=${size},mode=0777 emptydir ${shq(pod.emptyDir)} && echo sandbox-ready && exec sleep infinity`,
        ],
        { PATH: HOST_PATH },
      );
      const sandbox = pod.sandbox;
      await sandbox.waitForOutput(/sandbox-ready/);
      pod.sandboxInit = await findNamespaceInit(sandbox.pid, () => sandbox.running);
      if (!pod.sandboxInit) throw new Error(`the Pod sandbox ended: ${sandbox.output()}`);
      return pod;
    } catch (error) {
      await pod.destroy();
      throw error;
    }
  }

  /** Runs a host command (ip ...) and fails on a non-zero exit. */
  async host(argv: string[]): Promise<Result> {
    const result = await run(tool(argv[0]!), argv.slice(1), { env: { PATH: HOST_PATH } });
    if (result.code !== 0) throw new Error(`${argv.join(' ')} failed (${result.code}): ${result.err}`);
    return result;
  }

  /** A path as seen inside the Pod's sandbox mount namespace (e.g. to look into the emptyDir). */
  sandboxPath(path: string): string {
    if (!this.sandboxInit) throw new Error('the sandbox is not running');
    return `/proc/${this.sandboxInit}/root${path}`;
  }

  /** Starts a container; resolves once its PID 1 exists (not when it is "ready"). */
  async startContainer(spec: ContainerSpec): Promise<Container> {
    if (this.destroyed || !this.sandboxInit) throw new Error('the Pod is not running');
    prepareMountPoints(spec);
    const launched = new Launched(
      tool('nsenter'),
      [
        `--mount=/proc/${this.sandboxInit}/ns/mnt`,
        `--net=/run/netns/${this.name}`,
        '--',
        tool('unshare'),
        '--mount',
        '--pid',
        '--uts',
        '--fork',
        '--kill-child',
        '--propagation',
        'private',
        tool('sh'),
        '-c',
        setupScript(spec),
      ],
      { PATH: HOST_PATH },
    );
    const container = new Container(spec, launched);
    this.containers.push(container);
    // 0 when it ended at once (a failed setup, or a very short main process): see `exited`.
    container.initPid = await findNamespaceInit(launched.pid, () => launched.running);
    return container;
  }

  /** Runs a container to completion, like an init container. */
  async runContainer(spec: ContainerSpec, timeoutMs = 30000): Promise<Exit & { output: string }> {
    const container = await this.startContainer(spec);
    const timer = setTimeout(() => void container.kill(), timeoutMs);
    const exit = await container.exited;
    clearTimeout(timer);
    return { ...exit, output: container.output() };
  }

  /** Pids `ip netns pids` reports for the Pod network (what still runs in the Pod). */
  async netnsPids(): Promise<number[]> {
    const result = await run(tool('ip'), ['netns', 'pids', this.name], { env: { PATH: HOST_PATH } });
    if (result.code !== 0) return [];
    return result.out.split(/\s+/).filter(Boolean).map(Number);
  }

  /** Kills the sandbox (and with it the emptyDir tmpfs). Containers should be gone first. */
  async stopSandbox(): Promise<Exit | undefined> {
    const exit = await this.sandbox?.kill();
    this.sandboxInit = 0;
    return exit;
  }

  /** What is left of the Pod on the host. */
  async leftOvers(): Promise<LeftOvers> {
    const netnsExists = existsSync(`/run/netns/${this.name}`);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((line) => line.includes(this.dir) || line.includes(`/run/netns/${this.name}`));
    const processes: string[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
        if (cmdline.includes(this.dir) || cmdline.includes(this.name)) processes.push(`${entry}: ${cmdline}`);
      } catch {
        // Gone meanwhile.
      }
    }
    return {
      netnsPids: netnsExists ? await this.netnsPids() : [],
      netnsExists,
      mounts,
      processes,
      directoryExists: existsSync(this.dir),
    };
  }

  /** Kills every container and the sandbox, deletes the network namespace and the directory. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.containers.map((container) => container.kill()));
    await this.sandbox?.kill();
    this.sandboxInit = 0;
    if (existsSync(`/run/netns/${this.name}`))
      await run(tool('ip'), ['netns', 'del', this.name], { env: { PATH: HOST_PATH } });
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetHandlers();
  }

  private forgetHandlers(): void {
    process.removeListener('exit', this.onExit);
    for (const signal of CLEANUP_SIGNALS) process.removeListener(signal, this.onSignal);
  }

  /** Last-resort cleanup when the test process exits without teardown. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.forgetHandlers();
    for (const launched of [...this.containers.map((c) => c.launched), this.sandbox]) {
      if (!launched?.running) continue;
      try {
        process.kill(launched.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    spawnSync(tool('ip'), ['netns', 'del', this.name], { env: { PATH: HOST_PATH } });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a command in the container inside a real pseudo-terminal (node-pty), like `kubectl exec -it`. */
export async function terminal(
  container: Container,
  command: string[],
  timeoutMs = 30000,
): Promise<{ exitCode: number; output: string }> {
  const { file, args } = container.execArgv(command);
  const term = pty.spawn(file, args, {
    name: 'xterm-256color',
    cols: 97,
    rows: 31,
    env: container.environment({ TERM: 'xterm-256color' }),
  });
  let output = '';
  term.onData((data) => (output += data));
  const exit = await new Promise<{ exitCode: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      term.kill('SIGKILL');
      reject(new Error(`terminal session timed out: ${JSON.stringify(output)}`));
    }, timeoutMs);
    term.onExit((result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
  return { exitCode: exit.exitCode, output };
}

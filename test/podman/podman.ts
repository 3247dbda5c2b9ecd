/**
 * Real Pods, run by podman (issue 23; docs/pod-test.md "Real Pods"): Debian's podman 4.3 with runc
 * plays a Kubernetes Pod manifest (`podman kube play --network none`): init containers, emptyDir,
 * hostPath, configMap volumes, env, `tty: true`, one loopback-only network namespace shared by the
 * containers. Every image is made here from local files; nothing is pulled.
 *
 * API (the tests of test/podman/ code against it):
 *
 * - `podmanUnusable(): string | false` — why podman cannot run a container here (the skip reason), or
 *   false. Checked once per process: root, podman and runc on PATH, a tiny image imported and run.
 * - `CONTAINERS_CONF` — the file every podman command here is run with (env CONTAINERS_CONF): the
 *   three settings these machines need (ulimits within the hard limits, runc: cgroups are hybrid).
 * - `podman(args, { timeoutMs, input, check })` — runs podman with that file; every call has a
 *   timeout (default 120 s); `check` (default true) throws on a non-zero exit with its stderr.
 * - Base images, each built once per content (tag = hash of what goes in, so a repeated run reuses
 *   it; a lock keeps parallel test files from building the same one twice):
 *   - `alpineImage()`: Alpine as far as k8psh can tell: busybox-static, musl's loader (its libc),
 *     a musl-linked printenv (Debian's busybox has no printenv applet), /etc/alpine-release.
 *   - `clientImage()`: a glibc root from the host's Debian packages dash + coreutils (and their
 *     dependencies): the stand-in for `ubuntu` / `debian:bookworm-slim`.
 *   - `toolsImage()`: the same plus gcc, make, binutils and libc6-dev: the stand-in for `gcc:13`.
 *   - `buildK8pshImage()`: OUR image, from the repository's Dockerfile (`podman build --target
 *     deploy`), its `bin` stage replaced by the build context `bin` = the Dockerfile's own layout
 *     step run on this checkout's dist/ (the build stage's base image cannot be pulled here).
 *   Each returns `{ tag, built, ms }`: built false when the cached image was reused (and
 *   buildK8pshImage also `buildLog`, podman build's output when it built). What each needs, as a
 *   skip reason or false: `alpineUnavailable()`, `debianUnavailable()` (client),
 *   `toolsUnavailable()`.
 * - Manifests: `podFromTemplate(job)` (a Job's or Deployment's spec.template as a Pod),
 *   `localize(object, images)` (images replaced through the map original -> local tag, `ports:`
 *   dropped, as `--network none` requires; everything else as shipped), both returning copies.
 * - `playPod(t, documents)` — writes the documents (ConfigMaps and one Pod) as YAML and runs
 *   `podman kube play --network none`; returns a `PlayedPod`. Names are made unique per play: the
 *   Pod, its volumes and the ConfigMaps get a suffix `-<id>` (podman makes each emptyDir and
 *   configMap volume a named volume, global to the machine: two Pods with a volume `k8psh-bin` would
 *   share it). `kube play` returns once the init containers have run (podman removes them then). The
 *   Pod, its containers and its volumes are removed in t.teardown, even on failure. A Pod with init
 *   containers and restartPolicy Always (the default) is played with OnFailure: podman 4.3 applies
 *   the policy to init containers too, restarts the finished one, and the play fails.
 * - `PlayedPod`: `name`, `id` (the suffix), `playMs`, `container(name)` (podman's name:
 *   `<pod>-<container>`), `volumePath(name)` (where the Pod's volume `name` is on the host),
 *   `state(c)`, `waitExit(c, ms)` (exit code), `waitLog(c, re, ms)`, `waitHealthy(c, ms)` (runs the
 *   container's healthcheck, which podman makes from the livenessProbe, until it passes: podman
 *   cannot schedule it without systemd), `logs(c)` ({ out, err }; with `tty: true` lines end in CRLF,
 *   `lines()` drops the CR), `exec(c, argv, { workdir, env, timeoutMs })`, `hostPid(c)` (PID 1 of the
 *   container as seen from here), `down()`.
 *
 * Needs root (rootful podman), podman + runc (apt-get install podman runc), tar, dpkg-query; for the
 * Alpine-like image busybox-static, musl and musl-tools.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { runLayoutStep } from '../k8s/dockerfile.js';
import { ROOT } from '../k8s/manifests.js';
import { sleep } from '../lib/net.mjs';
import { installBusybox, which } from '../pod/pod.js';

/** Where the harness keeps its small state: the containers.conf, the build locks. */
const STATE = join(tmpdir(), 'k8psh-podman');

const CONF_TEXT = `# Written by test/podman/podman.ts (docs/pod-test.md, "Real Pods").
[containers]
# The hard RLIMIT_NOFILE here is 20000 and CAP_SYS_RESOURCE is missing: podman's defaults fail.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
# cgroups are hybrid v1/v2 here; crun refuses them, runc runs.
runtime = "runc"
`;

export const CONTAINERS_CONF = join(STATE, 'containers.conf');

function writeConf(): void {
  mkdirSync(STATE, { recursive: true });
  if (existsSync(CONTAINERS_CONF) && readFileSync(CONTAINERS_CONF, 'utf8') === CONF_TEXT) return;
  const temporary = `${CONTAINERS_CONF}.${process.pid}`;
  writeFileSync(temporary, CONF_TEXT);
  renameSync(temporary, CONTAINERS_CONF);
}

function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF };
}

export interface PodmanResult {
  code: number | null;
  out: string;
  err: string;
}

export interface PodmanOptions {
  timeoutMs?: number;
  input?: string;
  /** Throw when podman exits non-zero (default true). */
  check?: boolean;
}

/** Runs podman with our containers.conf; never hangs (SIGKILL at the timeout, then it throws). */
export function podman(args: readonly string[], options: PodmanOptions = {}): Promise<PodmanResult> {
  writeConf();
  const timeoutMs = options.timeoutMs ?? 120000;
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, { env: podmanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`podman ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const result = { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
      if ((options.check ?? true) && code !== 0)
        reject(new Error(`podman ${args.join(' ')} exited ${code}: ${result.err.trim()}`));
      else resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}

// ---------------------------------------------------------------------------------------------
// Can podman run here?

const PROBE_IMAGE = 'localhost/k8psh-test-probe:1';
let unusable: string | false | undefined;

/** Why podman cannot run a container on this machine, or false. Checked once per process. */
export function podmanUnusable(): string | false {
  unusable ??= probe();
  return unusable;
}

function probe(): string | false {
  if (process.platform !== 'linux') return 'podman Pods need Linux';
  if (process.getuid?.() !== 0) return 'the podman tests run rootful podman: not root';
  for (const program of ['podman', 'runc', 'tar', 'busybox'])
    if (which(program) === undefined)
      return `${program} is missing (apt-get install podman runc busybox-static)`;
  writeConf();
  const sync = (args: string[], input?: Buffer): { status: number | null; text: string } => {
    const result = spawnSync('podman', args, { env: podmanEnv(), input, timeout: 60000, encoding: 'buffer' });
    const text = `${result.stderr?.toString() ?? ''}${result.error ? ` ${result.error.message}` : ''}`.trim();
    return { status: result.status, text };
  };
  const info = sync(['info', '--format', '{{.Host.OCIRuntime.Name}}']);
  if (info.status !== 0) return `podman info fails: ${lastLine(info.text)}`;
  if (sync(['image', 'exists', PROBE_IMAGE]).status !== 0) {
    // A root holding only busybox-static: enough to start a container.
    const dir = mkdtempSync(join(tmpdir(), 'k8psh-podman-probe-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(which('busybox')!, join(dir, 'bin/busybox'));
      chmodSync(join(dir, 'bin/busybox'), 0o755);
      const tar = spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { timeout: 30000, maxBuffer: 1 << 26 });
      const imported = sync(['import', '-q', '-', PROBE_IMAGE], tar.stdout);
      if (imported.status !== 0) return `podman import fails: ${lastLine(imported.text)}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ran = sync(['run', '--rm', '--network', 'none', PROBE_IMAGE, '/bin/busybox', 'true']);
  if (ran.status !== 0) return `podman cannot start a container: ${lastLine(ran.text)}`;
  return false;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

// ---------------------------------------------------------------------------------------------
// Images, cached per content

export interface Image {
  /** localhost/k8psh-test-NAME:HASH */
  tag: string;
  /** False when an image of the same content was there already. */
  built: boolean;
  /** Time spent building it (0 when reused). */
  ms: number;
}

function hash(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** A lock file shared by the processes of one machine: one builder per image, the others wait. */
async function withLock<T>(name: string, body: () => Promise<T>, timeoutMs = 600000): Promise<T> {
  const dir = join(STATE, 'locks');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name.replace(/[^\w.-]/g, '_')}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holder = takeLock(file);
    if (holder === undefined) break;
    if (holder > 0 && !alive(holder)) {
      rmSync(file, { force: true }); // its builder died
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${file} held by ${holder} for ${timeoutMs} ms`);
    await sleep(200);
  }
  try {
    return await body();
  } finally {
    rmSync(file, { force: true });
  }
}

/** Creates the lock file holding our pid: undefined; else the holder's pid (0: not written yet). */
function takeLock(file: string): number | undefined {
  let fd;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      return Number(readFileSync(file, 'utf8')) || 0;
    } catch {
      return 0; // removed meanwhile: try again
    }
  }
  writeSync(fd, String(process.pid));
  closeSync(fd);
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The image `localhost/k8psh-test-NAME:<hash of key>`, made by `make(tag)` unless it exists. */
async function cachedImage(name: string, key: string, make: (tag: string) => Promise<void>): Promise<Image> {
  const repository = `localhost/k8psh-test-${name}`;
  const tag = `${repository}:${hash(key)}`;
  return withLock(name, async () => {
    const exists = await podman(['image', 'exists', tag], { check: false });
    if (exists.code === 0) return { tag, built: false, ms: 0 };
    const started = Date.now();
    await make(tag);
    const ms = Date.now() - started;
    await pruneOld(repository, tag);
    return { tag, built: true, ms };
  });
}

/**
 * Keeps the repository small: besides `keep`, its three newest tags (other checkouts, other builds)
 * stay; older ones go once they are ten minutes old (so that none a parallel run has just built goes),
 * unless a container uses them (rmi without -f refuses those).
 */
async function pruneOld(repository: string, keep: string): Promise<void> {
  const listed = await podman(['images', '--format', 'json', repository], { check: false });
  let images: { Names?: string[]; Created?: number }[] = [];
  try {
    images = JSON.parse(listed.out) as typeof images;
  } catch {
    return;
  }
  const now = Date.now() / 1000;
  const old = images
    .filter((image) => !(image.Names ?? []).includes(keep))
    .sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0))
    .slice(3)
    .filter((image) => now - (image.Created ?? now) > 600)
    .flatMap((image) => image.Names ?? []);
  if (old.length > 0) await podman(['rmi', ...old], { check: false });
}

/** `tar … | podman import --change … - TAG`: a file tree as a one-layer image. */
async function importTar(tarArgs: string[], tag: string, changes: string[]): Promise<void> {
  writeConf();
  const tar = spawn('tar', ['--numeric-owner', '-cf', '-', ...tarArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const imported = spawn('podman', ['import', '-q', ...changes.flatMap((c) => ['--change', c]), '-', tag], {
    env: podmanEnv(),
    stdio: [tar.stdout, 'pipe', 'pipe'],
  });
  // podman reads the pipe now: our end of it is closed, or tar's 'close' would wait for it forever.
  tar.stdout.destroy();
  let errors = '';
  tar.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  imported.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  imported.stdout.resume();
  const exit = (child: ChildProcess): Promise<number | null> =>
    new Promise((resolve) => {
      child.on('error', (error) => {
        errors += `${error.message}\n`;
        resolve(null);
      });
      child.on('exit', (code) => resolve(code));
    });
  const timer = setTimeout(() => {
    errors += 'killed after 300 s\n';
    tar.kill('SIGKILL');
    imported.kill('SIGKILL');
  }, 300000);
  const [tarCode, importCode] = await Promise.all([exit(tar), exit(imported)]);
  clearTimeout(timer);
  if (tarCode !== 0 || importCode !== 0)
    throw new Error(`importing ${tag}: tar ${tarCode}, podman import ${importCode}: ${errors.trim()}`);
}

const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Bumped when an image recipe changes, so that no stale cached image is used. */
const RECIPE = '2';

export const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';

const PRINTENV_C = `/* printenv for the Alpine-like image (Alpine's busybox has the applet, Debian's has not). */
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 2) {
    for (char **e = environ; *e; e++) puts(*e);
    return 0;
  }
  int status = 0;
  for (int i = 1; i < argc; i++) {
    const char *value = getenv(argv[i]);
    if (value) puts(value); else status = 1;
  }
  return status;
}
`;

/** Why the Alpine-like image cannot be made here, or false. */
export function alpineUnavailable(): string | false {
  if (!which('busybox')) return 'busybox is missing (apt-get install busybox-static)';
  if (!which('musl-gcc')) return 'musl-gcc is missing (apt-get install musl-tools)';
  if (!existsSync(MUSL_LOADER)) return `${MUSL_LOADER} is missing (apt-get install musl)`;
  return false;
}

/** Alpine as far as k8psh can tell: static busybox, musl's loader as libc, a musl printenv. */
export function alpineImage(): Promise<Image> {
  const busybox = which('busybox')!;
  const key = [RECIPE, 'alpine', readFileSync(busybox), readFileSync(realpathSync(MUSL_LOADER)), PRINTENV_C];
  return cachedImage('alpine', hash(...key), async (tag) => {
    const dir = mkdtempSync(join(tmpdir(), 'k8psh-podman-alpine-'));
    try {
      for (const sub of ['lib', 'usr/bin', 'etc', 'root']) mkdirSync(join(dir, sub), { recursive: true });
      mkdirSync(join(dir, 'tmp'), { mode: 0o1777 });
      chmodSync(join(dir, 'tmp'), 0o1777);
      installBusybox(dir, busybox);
      copyFileSync(realpathSync(MUSL_LOADER), join(dir, MUSL_LOADER));
      chmodSync(join(dir, MUSL_LOADER), 0o755);
      symlinkSync('ld-musl-x86_64.so.1', join(dir, 'lib/libc.musl-x86_64.so.1'));
      writeFileSync(join(dir, 'printenv.c'), PRINTENV_C);
      const built = spawnSync(
        'musl-gcc',
        ['-O2', '-Wall', '-Werror', '-o', join(dir, 'usr/bin/printenv'), join(dir, 'printenv.c')],
        { encoding: 'utf8', timeout: 60000 },
      );
      if (built.status !== 0) throw new Error(`musl-gcc failed: ${built.stderr}`);
      rmSync(join(dir, 'printenv.c'));
      writeFileSync(join(dir, 'etc/alpine-release'), '3.22.0\n');
      await importTar(['-C', dir, '.'], tag, [`ENV PATH=${IMAGE_PATH}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * The installed Debian packages `names` plus everything they depend on (Depends, Pre-Depends; of
 * alternatives the first one installed), each as `name:arch version`.
 */
export function packageClosure(names: readonly string[]): string[] {
  const seen = new Map<string, string>();
  let queue = [...names];
  while (queue.length > 0) {
    const result = spawnSync(
      'dpkg-query',
      [
        '-W',
        '-f',
        '${db:Status-Abbrev}\t${Package}:${Architecture}\t${Version}\t${Pre-Depends}, ${Depends}\n',
        ...queue,
      ],
      { encoding: 'utf8', timeout: 30000 },
    );
    const next: string[] = [];
    for (const line of result.stdout.split('\n')) {
      const [status, name, version, depends] = line.split('\t');
      if (!status?.startsWith('ii') || !name || seen.has(name)) continue;
      seen.set(name, `${name} ${version}`);
      for (const dependency of (depends ?? '').split(',')) {
        const alternatives = dependency
          .split('|')
          .map((a) =>
            a
              .replace(/\(.*?\)/g, '')
              .trim()
              .replace(/:any$/, ''),
          )
          .filter(Boolean);
        const installed = alternatives.find((a) => installedPackage(a));
        if (installed !== undefined && !seen.has(installed) && !seen.has(`${installed}:amd64`))
          next.push(installed);
      }
    }
    queue = [...new Set(next)].filter((n) => ![...seen.keys()].some((s) => s === n || s.startsWith(`${n}:`)));
  }
  return [...seen.values()].sort();
}

let installed: Set<string> | undefined;
/** Whether a package (`name` or `name:arch`) is installed: one dpkg-query for all of them. */
function installedPackage(name: string): boolean {
  if (installed === undefined) {
    const result = spawnSync(
      'dpkg-query',
      ['-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Architecture}\n'],
      {
        encoding: 'utf8',
        timeout: 30000,
        maxBuffer: 1 << 26,
      },
    );
    installed = new Set();
    for (const line of (result.stdout ?? '').split('\n')) {
      const [status, pkg, arch] = line.split('\t');
      if (!status?.startsWith('ii') || !pkg) continue;
      installed.add(pkg);
      installed.add(`${pkg}:${arch}`);
    }
  }
  return installed.has(name);
}

/** Documentation and translations: not needed to run anything. */
const SKIPPED = /^\/usr\/share\/(doc|man|info|locale|lintian|bug)(\/|$)/;

/**
 * The files of packages as tar members (relative to /), each at its real place on a usr-merged
 * system (/bin/ls is usr/bin/ls), with the parent directories, and the /etc/alternatives links that
 * its symlinks go through (cc -> /etc/alternatives/cc -> gcc).
 */
function packageMembers(packages: readonly string[]): string[] {
  const listed = spawnSync('dpkg', ['-L', ...packages.map((p) => p.split(' ')[0]!)], {
    encoding: 'utf8',
    timeout: 60000,
    maxBuffer: 1 << 28,
  });
  if (listed.status !== 0) throw new Error(`dpkg -L failed: ${listed.stderr}`);
  const members = new Set<string>();
  const addParents = (path: string): void => {
    for (let dir = dirname(path); dir !== '/' && !members.has(dir); dir = dirname(dir)) members.add(dir);
  };
  const add = (path: string): void => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return; // listed but not there (a diverted or removed file)
    }
    const real = stat.isDirectory() ? realpathSync(path) : join(realpathSync(dirname(path)), basename(path));
    if (SKIPPED.test(real) || members.has(real)) return;
    members.add(real);
    addParents(real);
    if (stat.isSymbolicLink()) {
      const target = readlinkSync(path);
      if (target.startsWith('/etc/alternatives/')) add(target);
    }
  };
  for (const path of listed.stdout.split('\n')) if (path.startsWith('/') && path !== '/.') add(path);
  // Names made by update-alternatives (cc, c89, awk...) are in no package's list: a link on PATH to
  // /etc/alternatives/NAME, which links to a file of ours.
  for (const name of readdirSync('/etc/alternatives')) {
    let target;
    try {
      target = realpathSync(join('/etc/alternatives', name));
    } catch {
      continue; // dangling
    }
    if (!members.has(target)) continue;
    for (const dir of ['/usr/bin', '/usr/sbin']) {
      const link = join(dir, name);
      try {
        if (readlinkSync(link) === `/etc/alternatives/${name}`) add(link);
      } catch {
        // Not a link there.
      }
    }
  }
  return [...members].sort().map((m) => m.slice(1));
}

/**
 * A glibc image from the host's Debian packages and their dependencies, with the top-level links of
 * a usr-merged root, /bin/sh -> dash, a /tmp and a /root.
 */
async function debianImage(name: string, packages: readonly string[]): Promise<Image> {
  const closure = packageClosure(packages);
  return cachedImage(name, hash(RECIPE, name, ...closure), async (tag) => {
    const members = packageMembers(closure);
    const extra = mkdtempSync(join(tmpdir(), `k8psh-podman-${name}-`));
    try {
      const top: string[] = [];
      for (const link of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
        try {
          if (lstatSync(`/${link}`).isSymbolicLink()) {
            symlinkSync(readlinkSync(`/${link}`), join(extra, link));
            top.push(link);
          }
        } catch {
          // Not on this system.
        }
      }
      mkdirSync(join(extra, 'tmp'));
      chmodSync(join(extra, 'tmp'), 0o1777);
      mkdirSync(join(extra, 'root'), { mode: 0o700 });
      const sh = join(extra, 'usr/bin/sh');
      if (!members.includes('usr/bin/sh')) {
        mkdirSync(dirname(sh), { recursive: true });
        symlinkSync('dash', sh);
        top.push('usr/bin/sh');
      }
      // The packages list /bin, /lib64...: here those are the links above, added once.
      const list = join(extra, '.members');
      writeFileSync(list, `${members.filter((m) => !top.includes(m)).join('\n')}\n`);
      await importTar(['--no-recursion', '-C', '/', '-T', list, '-C', extra, ...top, 'tmp', 'root'], tag, [
        `ENV PATH=${IMAGE_PATH}`,
      ]);
    } finally {
      rmSync(extra, { recursive: true, force: true });
    }
  });
}

/** Why the Debian-package images cannot be made here, or false. */
export function debianUnavailable(): string | false {
  if (!which('dpkg-query') || !which('dpkg')) return 'not a Debian system (dpkg-query)';
  for (const name of ['dash', 'coreutils']) if (!installedPackage(name)) return `${name} is not installed`;
  return false;
}

export const CLIENT_PACKAGES = ['dash', 'coreutils'];
export const TOOLS_PACKAGES = ['dash', 'coreutils', 'gcc', 'make', 'binutils', 'libc6-dev'];

/** Why the tools image cannot be made here, or false. */
export function toolsUnavailable(): string | false {
  const debian = debianUnavailable();
  if (debian) return debian;
  for (const name of TOOLS_PACKAGES)
    if (!installedPackage(name)) return `${name} is not installed (apt-get install ${name})`;
  return false;
}

/** A glibc root with a shell and coreutils: the client (`ubuntu`, `debian:bookworm-slim`). */
export function clientImage(): Promise<Image> {
  return debianImage('client', CLIENT_PACKAGES);
}

/** The client plus gcc, make, binutils and libc6-dev: the compiler (`gcc:13-bookworm`). */
export function toolsImage(): Promise<Image> {
  return debianImage('tools', TOOLS_PACKAGES);
}

/** The Dockerfile's final image, as `docker build .` makes it; its /bin from this checkout's dist/. */
export function buildK8pshImage(): Promise<Image & { buildLog: string }> {
  const binary = join(ROOT, 'dist/k8psh');
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'));
  let buildLog = '';
  return cachedImage('k8psh', hash(RECIPE, readFileSync(binary), dockerfile), async (tag) => {
    const out = mkdtempSync(join(tmpdir(), 'k8psh-podman-bin-'));
    try {
      // The build stage's own layout step, on this checkout: out/bin is what that stage's /out/bin
      // holds, given to the build as the stage it replaces (docs/kubernetes.md).
      const layout = runLayoutStep(out);
      if (layout.status !== 0) throw new Error(`the Dockerfile's layout step failed: ${layout.stderr}`);
      const built = await podman(
        [
          'build',
          // No intermediate images kept: each build would leave the bin stage's 111 MiB behind.
          '--layers=false',
          '--build-context',
          `bin=${join(out, 'bin')}`,
          '--target',
          'deploy',
          '-f',
          join(ROOT, 'Dockerfile'),
          '-t',
          tag,
          ROOT,
        ],
        { timeoutMs: 300000 },
      );
      buildLog = built.out + built.err;
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }).then((image) => ({ ...image, buildLog }));
}

// ---------------------------------------------------------------------------------------------
// Manifests

type Obj = Record<string, unknown>;

interface ContainerLike {
  name: string;
  image?: string;
  ports?: unknown;
  volumeMounts?: { name: string }[];
}

interface PodSpecLike {
  containers: ContainerLike[];
  initContainers?: ContainerLike[];
  volumes?: ({ name: string; configMap?: { name: string } } & Obj)[];
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/** A Job's (or Deployment's) spec.template as a Pod named after the workload. */
export function podFromTemplate(workload: Obj): Obj {
  const metadata = workload.metadata as Obj;
  const template = (workload.spec as { template: { metadata?: Obj; spec: Obj } }).template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...copy(template.metadata ?? {}), name: metadata.name },
    spec: copy(template.spec),
  };
}

/** A copy of a Pod (or any object with a Pod spec at spec) with local images and no `ports:`. */
export function localize(pod: Obj, images: Record<string, string>): Obj {
  const result = copy(pod);
  const spec = result.spec as PodSpecLike;
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    if (c.image !== undefined) {
      const local = images[c.image];
      if (local === undefined) throw new Error(`no local image for ${c.image} (container ${c.name})`);
      c.image = local;
    }
    delete c.ports;
  }
  return result;
}

export interface ContainerState {
  status: string;
  exitCode: number;
  pid: number;
  health: string;
}

export class PlayedPod {
  /** Time `podman kube play` took (it runs the init containers to completion). */
  playMs = 0;
  private gone = false;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly file: string,
    readonly volumes: string[],
    readonly playOutput: string,
  ) {}

  /** podman's name of the Pod's container `name`. */
  container(name: string): string {
    return `${this.name}-${name}`;
  }

  async state(name: string): Promise<ContainerState> {
    const result = await podman([
      'inspect',
      '--format',
      '{{.State.Status}}\t{{.State.ExitCode}}\t{{.State.Pid}}\t{{.State.Health.Status}}',
      this.container(name),
    ]);
    const [status, exitCode, pid, health] = result.out.trim().split('\t');
    return { status: status ?? '', exitCode: Number(exitCode), pid: Number(pid), health: health ?? '' };
  }

  /** Waits for the container to exit; its exit code. */
  async waitExit(name: string, timeoutMs = 60000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.state(name);
      if (state.status === 'exited' || state.status === 'stopped') return state.exitCode;
      if (Date.now() > deadline)
        throw new Error(`${this.container(name)} still ${state.status} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Waits for a line of its output (stdout or stderr) to match. */
  async waitLog(name: string, pattern: RegExp, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { out, err } = await this.logs(name);
      if (pattern.test(out) || pattern.test(err)) return;
      const state = await this.state(name);
      if (state.status === 'exited')
        throw new Error(
          `${this.container(name)} exited (${state.exitCode}) before printing ${pattern}: ${out}${err}`,
        );
      if (Date.now() > deadline) throw new Error(`no ${pattern} from ${this.container(name)}: ${out}${err}`);
      await sleep(100);
    }
  }

  /** Runs the container's healthcheck (its livenessProbe) until it passes; the attempts made. */
  async waitHealthy(name: string, timeoutMs = 30000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (let attempts = 1; ; attempts++) {
      const result = await podman(['healthcheck', 'run', this.container(name)], { check: false, timeoutMs });
      if (result.code === 0) return attempts;
      if (Date.now() > deadline)
        throw new Error(
          `${this.container(name)} not healthy after ${timeoutMs} ms: ${result.out}${result.err}`,
        );
      await sleep(200);
    }
  }

  /** What the container wrote, stdout and stderr apart (with `tty: true` everything is stdout, CRLF). */
  async logs(name: string): Promise<{ out: string; err: string }> {
    const result = await podman(['logs', this.container(name)]);
    return { out: result.out, err: result.err };
  }

  /** Runs a command in the running container (`kubectl exec`). */
  exec(
    name: string,
    argv: readonly string[],
    options: { workdir?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
  ): Promise<PodmanResult> {
    const args = ['exec', ...(options.input !== undefined ? ['-i'] : [])];
    if (options.workdir !== undefined) args.push('--workdir', options.workdir);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push('--env', `${key}=${value}`);
    return podman([...args, this.container(name), ...argv], {
      check: false,
      timeoutMs: options.timeoutMs ?? 60000,
      input: options.input,
    });
  }

  /** Where the Pod's volume `name` (an emptyDir or configMap volume, as the manifest names it) is. */
  async volumePath(name: string): Promise<string> {
    const result = await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', `${name}-${this.id}`]);
    return result.out.trim();
  }

  /** The host pid of the container's PID 1. */
  async hostPid(name: string): Promise<number> {
    return (await this.state(name)).pid;
  }

  /** Removes the Pod, its containers and the volumes podman made for it. */
  async down(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    await podman(['kube', 'down', this.file], { check: false, timeoutMs: 120000 });
    await podman(['pod', 'rm', '-f', '--ignore', this.name], { check: false, timeoutMs: 120000 });
    if (this.volumes.length > 0)
      await podman(['volume', 'rm', '-f', ...this.volumes], { check: false, timeoutMs: 60000 });
    rmSync(dirname(this.file), { recursive: true, force: true });
  }
}

/** CRLF (a `tty: true` container's logs) to LF, then the non-empty lines. */
export function lines(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n').filter(Boolean);
}

/**
 * Plays ConfigMaps and one Pod with `podman kube play --network none`, under unique names (see the
 * header); removed in t.teardown. Throws (after tearing down) if the play fails.
 */
export async function playPod(
  t: Test,
  documents: Obj[] | Obj,
  options: { timeoutMs?: number } = {},
): Promise<PlayedPod> {
  const id = randomBytes(3).toString('hex');
  const docs = (Array.isArray(documents) ? documents : [documents]).map((d) => copy(d));
  const pod = docs.find((d) => d.kind === 'Pod');
  if (pod === undefined) throw new Error('playPod: no Pod among the documents');
  const suffix = (name: string): string => `${name}-${id}`;
  const configMaps = new Map<string, string>();
  for (const d of docs.filter((d) => d.kind === 'ConfigMap')) {
    const metadata = d.metadata as { name: string };
    configMaps.set(metadata.name, suffix(metadata.name));
    metadata.name = suffix(metadata.name);
  }
  const podMeta = pod.metadata as { name: string };
  podMeta.name = suffix(podMeta.name);
  const spec = pod.spec as PodSpecLike & { restartPolicy?: string };
  // podman 4.3 applies the Pod's restartPolicy to its init containers too: under Always (the
  // default) a finished init container is restarted, and the play fails removing it.
  if ((spec.initContainers ?? []).length > 0 && (spec.restartPolicy ?? 'Always') === 'Always')
    spec.restartPolicy = 'OnFailure';
  const volumes: string[] = [];
  for (const volume of spec.volumes ?? []) {
    const renamed = suffix(volume.name);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers])
      for (const mount of c.volumeMounts ?? []) if (mount.name === volume.name) mount.name = renamed;
    volume.name = renamed;
    volumes.push(renamed);
    if (volume.configMap !== undefined) {
      const local = configMaps.get(volume.configMap.name);
      if (local !== undefined) volume.configMap.name = local;
      volumes.push(volume.configMap.name);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-podman-pod-'));
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  const played = new PlayedPod(podMeta.name, id, file, volumes, '');
  t.teardown(() => played.down());
  const started = Date.now();
  const result = await podman(['kube', 'play', '--network', 'none', file], {
    check: false,
    timeoutMs: options.timeoutMs ?? 180000,
  });
  played.playMs = Date.now() - started;
  if (result.code !== 0) {
    const text = `${result.out}${result.err}`.trim();
    await played.down();
    throw new Error(`podman kube play failed (${result.code}): ${text}`);
  }
  return played;
}

/**
 * The images of the real Pods (./podman.ts has the whole API): base images made from this machine's
 * files, each built once per content (tag = hash of what goes in; a lock keeps parallel test files
 * from building the same one twice), and our own image from the repository's Dockerfile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
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
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runLayoutStep } from '../k8s/dockerfile.js';
import { ROOT } from '../k8s/manifests.js';
import { sleep } from '../lib/net.mjs';
import { installBusybox, which } from '../pod/pod.js';
import { alive } from '../e2e/harness.js';
import { podman, podmanEnv, STATE, writeConf } from './podman.js';

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

/**
 * The image `localhost/k8psh-test-NAME:<hash of key>`, made by `make(tag)` unless it exists: once per
 * run for all the test files; ./remove-images.ts removes it when the run is over.
 */
async function cachedImage(name: string, key: string, make: (tag: string) => Promise<void>): Promise<Image> {
  const repository = `localhost/k8psh-test-${name}`;
  const tag = `${repository}:${hash(key)}`;
  return withLock(name, async () => {
    const exists = await podman(['image', 'exists', tag], { check: false });
    if (exists.code === 0) return { tag, built: false, ms: 0 };
    const started = Date.now();
    await make(tag);
    const ms = Date.now() - started;
    return { tag, built: true, ms };
  });
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

/** printenv for the Alpine-like image (test/pod/printenv.c), compiled with musl-gcc. */
const PRINTENV_C = readFileSync(new URL('../pod/printenv.c', import.meta.url), 'utf8');

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

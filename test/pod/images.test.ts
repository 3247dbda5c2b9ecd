/**
 * The one executable in the images it must run in (issue 13; docs/pod-test.md), in a simulated Pod:
 *
 * 1. The image: a root holding exactly the final image's files, made by the Dockerfile's own layout
 *    step (/bin/k8psh, its runtime directory /bin/.k8psh-runtime-<id>/ as `--install` lays it out,
 *    /bin/k8pshd -> k8psh; no libc, no /tmp), runs its default command as its USER on a read-only
 *    root (nowhere to write: it runs from the runtime beside it), then the init container's
 *    `--install`. test/podman/ builds and runs the image itself.
 * 2. The original k8psh's own test Job, its commands and k8s.conf read from config/k8s/test-job.yaml:
 *    the server in an Alpine-like root (Debian's musl loader + busybox-static, and a musl-linked
 *    printenv compiled here: Debian's busybox has no printenv applet), the client in a glibc root.
 * 3. Scratch-like roots (static busybox only, no libc anywhere) running a server and a client, with
 *    the emptyDir mounted read-only at /opt/k8psh instead of the init container's /k8psh/bin.
 * Nothing is written into the emptyDir after the install, nor into the server roots.
 *
 * With K8PSH_TEST_ARCH=arm64 (test/arm64/images.test.ts) the image is the linux/arm64 one: the same
 * roots (amd64 busybox and musl: binfmt's F flag runs our arm64 executable inside them under qemu).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { ROOT, SKIP_UNBUILT } from '../e2e/harness.js';
import { ARM64_DIST, arm64Unavailable } from '../arm64/emulation.js';
import { finalImage, runLayoutStep } from '../k8s/dockerfile.js';
import { container, loadManifests, podSpecOf } from '../k8s/manifests.js';
import { interpreterOf } from './elf.js';
import {
  hostSystemRoot,
  installBusybox,
  makeRoot,
  Pod,
  podUnsupported,
  scratchRoot,
  terminal,
  which,
  type ContainerSpec,
  type Mount,
} from './pod.js';

const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';
/** What `k8psh --install` may write into the memory-backed emptyDir (issue 13). */
const INSTALLED_MAX = 120 * 2 ** 20;
/** The PATH of the alpine and ubuntu images' config (`docker inspect`). */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const ARM64 = process.env.K8PSH_TEST_ARCH === 'arm64';

function skipReason(): string | false {
  const unbuilt = ARM64 ? arm64Unavailable() : SKIP_UNBUILT;
  if (unbuilt) return unbuilt;
  const unsupported = podUnsupported();
  if (unsupported) return unsupported;
  if (!which('busybox')) return 'busybox is missing (apt-get install busybox-static)';
  if (!which('musl-gcc')) return 'musl-gcc is missing (apt-get install musl-tools)';
  try {
    realpathSync(MUSL_LOADER);
  } catch {
    return `${MUSL_LOADER} is missing (apt-get install musl)`;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// What the image and the Job say

const job = loadManifests(join(ROOT, 'config/k8s/test-job.yaml'));
const jobSpec = podSpecOf(job.find((m) => m.object.kind === 'Job')!.object);
const configMap = job.find((m) => m.object.kind === 'ConfigMap')!.object.data as Record<string, string>;

/**
 * A Job container as the Pod harness runs it: its image's root, its command, the image's PATH
 * overridden by its env, its volume mounts bound to the Pod's volumes (in the manifest's order, so a
 * volume mounted inside another lands in it; its mount point is created there, as the kubelet does).
 */
function fromJob(
  c: IContainer,
  root: string,
  volumes: Record<string, string>,
  entrypoint: string[] = [],
): ContainerSpec {
  const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: c.name, HOME: '/root' };
  for (const variable of c.env ?? []) env[variable.name] = variable.value ?? '';
  const mounts: Mount[] = (c.volumeMounts ?? []).map((m) => ({
    source: volumes[m.name]!,
    target: m.mountPath,
    readOnly: m.readOnly === true,
  }));
  for (const inner of mounts) {
    const outer = mounts.find((m) => m !== inner && inner.target.startsWith(`${m.target}/`));
    if (outer) mkdirSync(join(outer.source, relative(outer.target, inner.target)), { recursive: true });
  }
  return { name: c.name, root, mounts, env, command: [...(c.command ?? entrypoint), ...(c.args ?? [])] };
}

// ---------------------------------------------------------------------------------------------
// Roots

/** Every path under a root, with its type, size and mode: what an image holds (skipping mount points). */
function tree(root: string, skip: readonly string[] = []): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const file = join(dir, entry);
      const path = `/${relative(root, file)}`;
      if (skip.includes(path)) continue;
      const stat = lstatSync(file);
      found.push(
        `${path} ${stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : 'f'} ${stat.size} ${stat.mode.toString(8)}`,
      );
      if (stat.isDirectory()) walk(file);
    }
  };
  walk(root);
  return found;
}

/** Files of a glibc or of ours anywhere in a root. */
function foreignFiles(root: string): string[] {
  return tree(root)
    .map((line) => line.split(' ')[0]!)
    .filter((path) => /ld-linux|libc\.so\.6|libstdc\+\+|libgcc_s|k8psh|node/.test(path));
}

/** printenv for the Alpine-like root, compiled with musl-gcc. */
const PRINTENV_C = readFileSync(new URL('./printenv.c', import.meta.url), 'utf8');

/** Alpine as far as k8psh can tell: busybox, musl's loader (its libc), a musl-linked printenv. */
function alpineRoot(dir: string, scratch: string): string {
  makeRoot(dir, ['lib', 'usr/bin', 'etc']);
  installBusybox(dir);
  copyFileSync(realpathSync(MUSL_LOADER), join(dir, MUSL_LOADER));
  chmodSync(join(dir, MUSL_LOADER), 0o755);
  symlinkSync('ld-musl-x86_64.so.1', join(dir, 'lib/libc.musl-x86_64.so.1'));
  writeFileSync(join(scratch, 'printenv.c'), PRINTENV_C);
  const built = spawnSync(
    which('musl-gcc')!,
    ['-O2', '-Wall', '-Werror', '-o', join(dir, 'usr/bin/printenv'), join(scratch, 'printenv.c')],
    {
      encoding: 'utf8',
    },
  );
  if (built.status !== 0) throw new Error(`musl-gcc failed: ${built.stderr}`);
  writeFileSync(join(dir, 'etc/alpine-release'), '3.22.0\n');
  return dir;
}

/** A scratch image plus static busybox: no libc anywhere. */
function busyboxRoot(dir: string, extraDirs: readonly string[]): string {
  scratchRoot(dir, extraDirs);
  installBusybox(dir);
  return dir;
}

function expectOk(t: Test, result: { code: number | null; out: string; err: string }, what: string): void {
  t.equal(result.code, 0, what, { stdout: result.out, stderr: result.err });
}

// ---------------------------------------------------------------------------------------------

t.test(
  'the one executable in scratch, Alpine and glibc containers',
  // Under qemu every start of our Node costs about a second.
  { skip: skipReason(), timeout: ARM64 ? 300000 : 180000 },
  async (t) => {
    const started = Date.now();
    const pod = await Pod.create();
    t.teardown(() => pod.destroy());
    const volumes = {
      'k8psh-bin': pod.emptyDir,
      workspace: pod.workspace,
      'k8psh-config': join(pod.dir, 'volumes/config'),
    };
    mkdirSync(volumes['k8psh-config']);
    for (const [name, text] of Object.entries(configMap))
      writeFileSync(join(volumes['k8psh-config'], name), text);

    // --- init: exactly the image's files, its entrypoint and user, the Job's args.
    // The image's root: its /bin made by the Dockerfile's own layout step, and nothing else.
    const image = finalImage();
    const initRoot = scratchRoot(join(pod.dir, 'roots/init'));
    // The step copies dist/k8psh: for arm64, from a directory whose dist is dist/arm64.
    let layoutFrom = ROOT;
    if (ARM64) {
      layoutFrom = join(pod.dir, 'arm64-checkout');
      mkdirSync(layoutFrom);
      symlinkSync(ARM64_DIST, join(layoutFrom, 'dist'));
    }
    const layout = runLayoutStep(initRoot, layoutFrom);
    t.equal(layout.status, 0, `the Dockerfile's /out/bin step: ${layout.stderr}`);
    const entries = tree(initRoot, ['/proc', '/dev']);
    const runtimeDir = /^(\/bin\/\.k8psh-runtime-[0-9a-f]+) d \d+ 40755$/.exec(entries[1] ?? '')?.[1];
    t.ok(runtimeDir, 'the runtime directory beside the executable, mode 0755, as --install lays it out', {
      entries,
    });
    t.match(
      entries.filter((line) => runtimeDir === undefined || !line.startsWith(`${runtimeDir}/`)),
      [
        '/bin d 4096 40755',
        /^\/bin\/\.k8psh-runtime-/,
        /^\/bin\/k8psh f \d+ 100755$/,
        '/bin/k8pshd l 5 120777',
      ],
      'the init root is the image: the one file, its runtime and its link, nothing else',
    );
    t.match(
      entries.filter((line) => runtimeDir !== undefined && line.startsWith(`${runtimeDir}/`)),
      [/\/ld-linux-[\w-]+\.so\.\d f \d+ 100755$/, /\/libc\.so\.6 f/],
      'the runtime: the loader and the libraries...',
    );
    t.ok(
      entries.some((line) => runtimeDir !== undefined && line.startsWith(`${runtimeDir}/node f `)),
      '...and node',
    );
    t.equal(interpreterOf(join(initRoot, 'bin/k8psh')), undefined, 'k8psh is static');
    // `docker run IMAGE`: the default command, as the image's user, on a read-only root with no /tmp:
    // it runs from the runtime beside it, with nothing to unpack.
    const bare = await pod.runContainer({
      name: 'image',
      root: initRoot,
      user: image.user,
      tmp: false,
      readOnlyRoot: true,
      env: { PATH: IMAGE_PATH },
      command: [...image.entrypoint, ...image.cmd],
    });
    t.same(
      { code: bare.code, signal: bare.signal },
      { code: 0, signal: null },
      'the image runs its default command',
      {
        output: bare.output,
      },
    );
    t.match(
      bare.output,
      /^k8psh \S+.* node v24\.\d+\.\d+\n$/,
      'which prints the version and the embedded Node 24',
    );

    const initSpec = fromJob(jobSpec.initContainers![0]!, initRoot, volumes, image.entrypoint);
    const init = await pod.runContainer({ ...initSpec, user: image.user, tmp: false }, 60000);
    t.same(
      { code: init.code, signal: init.signal },
      { code: 0, signal: null },
      'k8psh --install in a root with no libc',
      {
        output: init.output,
      },
    );
    const installed = tree(pod.sandboxPath(pod.emptyDir));
    const size = installed.reduce(
      (sum, line) => sum + (line.split(' ')[1] === 'f' ? Number(line.split(' ')[2]) : 0),
      0,
    );
    t.comment(
      `installed into the emptyDir: ${(size / 2 ** 20).toFixed(1)} MiB in ${installed.length} entries`,
    );
    t.ok(size > 0 && size <= INSTALLED_MAX, `installed size ${(size / 2 ** 20).toFixed(1)} MiB <= 120 MiB`);
    t.ok(
      installed.some((line) => /^\/k8pshd f \d+ 100755$/.test(line)),
      'k8pshd installed, mode 0755',
      { installed },
    );

    await t.test('the original Job: server on Alpine (musl), client on a glibc root', async (t) => {
      const alpine = alpineRoot(join(pod.dir, 'roots/server'), pod.dir);
      t.equal(interpreterOf(join(alpine, 'usr/bin/printenv')), MUSL_LOADER, 'printenv is musl-linked');
      t.same(foreignFiles(alpine), [], 'no glibc and nothing of ours in the Alpine root');
      const before = tree(alpine, ['/proc', '/dev', '/tmp', '/workspace-server', '/k8psh']);

      const server = await pod.startContainer(fromJob(container(jobSpec, 'server'), alpine, volumes));
      const clientRoot = join(pod.dir, 'roots/client');
      const clientSpec = fromJob(container(jobSpec, 'client'), clientRoot, volumes);
      const client = await pod.startContainer({
        ...clientSpec,
        mounts: [...hostSystemRoot(clientRoot), ...clientSpec.mounts!],
      });
      const clientTimer = setTimeout(() => void client.kill(), 60000);
      const clientExit = await client.exited;
      clearTimeout(clientTimer);
      t.same(clientExit, { code: 0, signal: null }, 'the client command succeeds', {
        client: client.output(),
        server: server.output(),
      });
      const stdout = client.stdout().split('\n').filter(Boolean);
      t.same(stdout.length, 6, 'six lines on stdout', { stdout });
      t.match(
        stdout,
        [
          /^Linux client /,
          'ClientTest',
          '/workspace/test',
          /^Linux server /,
          'ServerTest',
          '/workspace-server/test',
        ],
        'local, then remote: uname -a, printenv K8PSH_TEST, pwd',
        { stdout },
      );

      const timer = setTimeout(() => void server.kill(), 20000);
      const exit = await server.exited;
      clearTimeout(timer);
      t.same(exit, { code: 0, signal: null }, 'the server exits 0 after --max-connections=3', {
        output: server.output(),
      });
      t.same(
        tree(alpine, ['/proc', '/dev', '/tmp', '/workspace-server', '/k8psh']),
        before,
        'nothing written into the Alpine root',
      );
    });

    await t.test(
      'scratch-like roots: a server and a client, the volume read-only at /opt/k8psh',
      async (t) => {
        writeFileSync(
          join(pod.workspace, 'scratch.conf'),
          `baseDirectory = \${WORKSPACE:-/workspace}
[ scratch:1121 ] --server-uid=65532
uname
pwd
tty
readlink
cat
env ?K8PSH_TEST= ?NODE_OPTIONS= FIXED=fixed
[ background:1122 ]
hostname
`,
        );
        mkdirSync(join(pod.workspace, 'sub'));
        const serverRoot = busyboxRoot(join(pod.dir, 'roots/scratch'), ['opt/k8psh', 'workspace']);
        t.same(
          foreignFiles(serverRoot).filter((p) => !p.startsWith('/opt/k8psh')),
          [],
          'no libc and nothing of ours',
        );
        t.equal(interpreterOf(join(serverRoot, 'bin/busybox')), undefined, 'busybox is static');
        const before = tree(serverRoot, ['/proc', '/dev', '/workspace', '/opt/k8psh']);
        const server = await pod.startContainer({
          name: 'scratch',
          root: serverRoot,
          user: '65532:65532',
          tmp: false,
          mounts: [
            { source: pod.emptyDir, target: '/opt/k8psh', readOnly: true },
            { source: pod.workspace, target: '/workspace' },
          ],
          env: { PATH: '/bin', K8PSH_TEST: 'server-value', WORKSPACE: '/workspace' },
          // No stubs for the other section's commands: it could not write them (not root, no /tmp).
          command: [
            '/opt/k8psh/k8pshd',
            '--config=/workspace/scratch.conf',
            '--name=scratch',
            '--disable-client-executables',
          ],
        });
        await server.waitForOutput(/"listening"/);

        const clientRoot = busyboxRoot(join(pod.dir, 'roots/scratch-client'), [
          'opt/k8psh',
          'src',
          'stubs',
          'copy/bin',
        ]);
        const client = await pod.startContainer({
          name: 'scratch-client',
          root: clientRoot,
          tmp: false,
          mounts: [
            { source: pod.emptyDir, target: '/opt/k8psh', readOnly: true },
            { source: pod.workspace, target: '/src' },
          ],
          env: {
            PATH: '/stubs:/bin',
            K8PSH_CONFIG: '/src/scratch.conf',
            K8PSH_TEST: 'client-value',
            WORKSPACE: '/src',
          },
          command: [
            '/bin/sh',
            '-c',
            '/opt/k8psh/k8pshd --executable-directory=/stubs --name=scratch-client && echo stubs-ready && exec sleep 3600',
          ],
        });
        await client.waitForOutput(/stubs-ready/);

        await t.test('stubs link to the executable at its path in this container', async (t) => {
          const stubs = await client.exec(['/bin/ls', '/stubs']);
          t.same(stubs.out.split('\n').filter(Boolean).sort(), [
            'cat',
            'env',
            'hostname',
            'pwd',
            'readlink',
            'tty',
            'uname',
          ]);
          const target = await client.exec(['/bin/readlink', '-f', '/stubs/uname']);
          t.match(target.out, /^\/opt\/k8psh\//, 'into the volume at /opt/k8psh', { target: target.out });
          const write = await client.exec(['/bin/touch', '/opt/k8psh/x']);
          t.not(write.code, 0, 'the volume is read-only here');
        });

        await t.test('uname and pwd run in the scratch server', async (t) => {
          const remote = await client.exec(['/stubs/uname', '-n'], { cwd: '/src/sub' });
          expectOk(t, remote, 'remote uname');
          t.equal(remote.out, 'scratch\n');
          const pwd = await client.exec(['/stubs/pwd'], { cwd: '/src/sub' });
          expectOk(t, pwd, 'remote pwd');
          t.equal(pwd.out, '/workspace/sub\n', 'the working directory mapped from /src to /workspace');
        });

        await t.test("a spawned command's environment is exactly its specs, nothing of ours", async (t) => {
          // Set by env inside the container: tap adds its own NODE_OPTIONS to what this process spawns.
          const hostile = [
            'NODE_OPTIONS=--max-old-space-size=1',
            'NODE_DEBUG=net,child_process',
            'UV_THREADPOOL_SIZE=1',
          ];
          const env = await client.exec(['/bin/env', ...hostile, '/stubs/env'], { cwd: '/src' });
          expectOk(t, env, 'remote env, under a hostile Node environment');
          t.same(
            env.out.split('\n').filter(Boolean).sort(),
            ['FIXED=fixed', 'K8PSH_TEST=client-value', 'NODE_OPTIONS=--max-old-space-size=1'],
            "the client's K8PSH_TEST and NODE_OPTIONS (named by the spec), FIXED; no NODE_DEBUG",
          );
          t.equal(env.err, '', 'nothing on stderr');
          const environ = await client.exec(['/stubs/cat', '/proc/self/environ'], { cwd: '/src' });
          expectOk(t, environ, 'remote cat /proc/self/environ');
          t.equal(environ.out, '', 'a command with no specs has an empty environment');
          const maps = await client.exec(['/stubs/cat', '/proc/self/maps'], { cwd: '/src' });
          expectOk(t, maps, 'remote cat /proc/self/maps');
          t.match(maps.out, /\/bin\/busybox/, 'its own executable is mapped');
          t.notMatch(
            maps.out,
            /k8psh|ld-linux|libc\.so|node/,
            'nothing of ours (loader, libraries, runtime)',
          );
        });

        await t.test('descriptors passed across containers, and a terminal', async (t) => {
          const direct = await client.exec(['/bin/sh', '-c', '/stubs/readlink /proc/self/fd/1 | /bin/cat'], {
            cwd: '/src',
          });
          expectOk(t, direct, 'remote readlink, stdio passed');
          t.match(direct.out, /^pipe:\[\d+\]\n$/, "the client container's own pipe");
          // -t: a pseudo-terminal of the server's (docs/terminals.md).
          const session = await terminal(client, ['/bin/sh', '-c', 'cd /src && K8PSH_TTY=1 /stubs/tty']);
          t.equal(session.exitCode, 0, 'the session ended with 0', { output: session.output });
          t.match(session.output, /\/dev\/pts\/\d+/, 'the remote command had a pseudo-terminal');
          // By default the client's terminal itself, which the server's container cannot name.
          const passed = await terminal(client, ['/bin/sh', '-c', 'cd /src && /stubs/tty']);
          t.equal(passed.exitCode, 1, 'tty: isatty but no name', { output: passed.output });
          t.equal(passed.output, 'not a tty\r\n');
        });

        await t.test(
          '--install and --background from an installed copy, in a root with no libc',
          async (t) => {
            // The name chooses the mode (k8pshd is the server): k8psh, a link to the installed k8pshd.
            const copy = await client.exec([
              '/bin/sh',
              '-c',
              'ln -s /opt/k8psh/k8pshd /copy/bin/k8psh && /copy/bin/k8psh --install /copy/k8psh',
            ]);
            expectOk(t, copy, '--install /copy/k8psh from the installed /opt/k8psh/k8pshd');
            const version = await client.exec(['/copy/k8psh', '--version']);
            expectOk(t, version, 'the copy runs');
            t.match(version.out, /^k8psh \S+.* node v24\.\d+\.\d+\n$/, 'on the embedded Node 24');
            const daemon = await client.exec(
              [
                '/opt/k8psh/k8pshd',
                '--background',
                '--pidfile=/copy/k8pshd.pid',
                '--name=background',
                '--max-connections=1',
                '--disable-client-executables',
              ],
              { cwd: '/copy' },
            );
            expectOk(t, daemon, 'k8pshd --background returns');
            const hostname = await client.exec(['/stubs/hostname'], { cwd: '/src' });
            expectOk(t, hostname, 'served by the background server');
            t.equal(hostname.out, 'scratch-client\n', 'in this container');
          },
        );

        await client.kill();
        const exit = await server.stop(10000);
        t.same(exit, { code: 0, signal: null }, 'the scratch server exits 0 on SIGTERM', {
          output: server.output(),
        });
        t.same(
          tree(serverRoot, ['/proc', '/dev', '/workspace', '/opt/k8psh']),
          before,
          'nothing written into the server root',
        );
      },
    );

    t.same(
      tree(pod.sandboxPath(pod.emptyDir)),
      installed,
      'nothing written into the emptyDir after the install',
    );
    t.comment(`images test took ${Date.now() - started} ms`);
  },
);

/**
 * k8psh in a simulated Pod (see docs/pod-test.md): an init container installs the binary into an
 * emptyDir, a "tools" container with gcc and make serves them with k8pshd, and a "build"
 * container with only busybox and the C runtime compiles a C program through the stubs, runs it,
 * and opens one terminal session. Every container has its own mount, PID and UTS namespaces and
 * root filesystem; all share one network namespace.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN, SKIP_UNBUILT, sleep } from '../e2e/harness.js';
import {
  copyLibraries,
  hostSystemRoot,
  installBusybox,
  makeRoot,
  Pod,
  podUnsupported,
  terminal,
  which,
} from './pod.js';

function skipReason(): string | false {
  if (SKIP_UNBUILT) return SKIP_UNBUILT;
  const unsupported = podUnsupported();
  if (unsupported) return unsupported;
  if (!which('busybox')) return 'busybox is missing (apt-get install busybox-static)';
  if (!which('gcc') || !which('make')) return 'the tools container needs the host gcc and make';
  return false;
}

const CONFIG = `# The Pod's k8psh.conf. The workspace is /workspace in "tools" and /src in "build".
baseDirectory = \${WORKSPACE:-/workspace}
connectTimeoutMs = 20000

[ tools ]
gcc ?PATH=
make ?PATH=
cc
uname
pwd
tty
stty
readlink
`;

const HELLO_C = `#include <stdio.h>
#include <sys/utsname.h>

int main(void) {
  struct utsname u;
  if (uname(&u) != 0) return 1;
  printf("hello from a k8psh Pod, running on %s\\n", u.nodename);
  return 0;
}
`;

const MAKEFILE = `hello: hello.c
\t$(CC) -O2 -o $@ hello.c
`;

/** The environment of the build container (and of every exec into it). */
const BUILD_ENV = {
  PATH: '/stubs:/bin',
  HOME: '/root',
  WORKSPACE: '/src',
  K8PSH_CONFIG: '/src/k8psh.conf',
};

t.test('k8psh in a Pod built from namespaces', { skip: skipReason(), timeout: 90000 }, async (t) => {
  const started = Date.now();
  const pod = await Pod.create();
  t.teardown(() => pod.destroy());
  t.comment(`Pod network ${pod.name}, directory ${pod.dir}`);

  // The shared workspace volume: the config and a small C project.
  writeFileSync(join(pod.workspace, 'k8psh.conf'), CONFIG);
  mkdirSync(join(pod.workspace, 'hello'));
  writeFileSync(join(pod.workspace, 'hello/hello.c'), HELLO_C);
  writeFileSync(join(pod.workspace, 'hello/Makefile'), MAKEFILE);
  writeFileSync(join(pod.workspace, 'hello/broken.c'), 'int main(void) { return }\n');

  // --- init: a root holding only the executable (an image file, bind-mounted; static, no libc).
  const initRoot = makeRoot(join(pod.dir, 'roots/init'));
  const init = await pod.runContainer({
    name: 'init',
    root: initRoot,
    mounts: [
      { source: BIN, target: '/k8psh-image/k8psh', readOnly: true },
      { source: pod.emptyDir, target: '/k8psh/bin' },
    ],
    env: {},
    command: ['/k8psh-image/k8psh', '--install', '/k8psh/bin/k8pshd'],
  });
  t.same({ code: init.code, signal: init.signal }, { code: 0, signal: null }, 'init container succeeded', {
    output: init.output,
  });
  const installed = statSync(pod.sandboxPath(join(pod.emptyDir, 'k8pshd')));
  t.equal(installed.mode & 0o777, 0o755, 'k8pshd installed in the emptyDir with mode 0755');
  t.ok(
    readdirSync(pod.sandboxPath(pod.emptyDir)).some((name) => name.startsWith('.k8psh-runtime-')),
    'with its runtime directory beside it',
  );

  // --- tools: the host's /usr and /etc (gcc, make), serving them with k8pshd as PID 1.
  const toolsRoot = join(pod.dir, 'roots/tools');
  const tools = await pod.startContainer({
    name: 'tools',
    root: toolsRoot,
    mounts: [
      ...hostSystemRoot(toolsRoot),
      { source: pod.emptyDir, target: '/k8psh/bin', readOnly: true },
      { source: pod.workspace, target: '/workspace' },
    ],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', K8PSH_CONFIG: '/workspace/k8psh.conf' },
    command: ['/k8psh/bin/k8pshd', '--name', 'tools'],
  });
  await tools.waitForOutput(/"listening"/);
  const probe = await tools.exec(['/k8psh/bin/k8pshd', '--health', '--name', 'tools']);
  t.equal(probe.code, 0, 'readiness probe (k8pshd --health) passes inside the tools container', {
    stdout: probe.out,
    stderr: probe.err,
  });

  // --- build: busybox and a C runtime only (to run what it compiles); stubs in /stubs, first on PATH.
  const buildRoot = makeRoot(join(pod.dir, 'roots/build'), ['stubs', 'root']);
  installBusybox(buildRoot);
  copyLibraries(buildRoot, which('true')!);
  const build = await pod.startContainer({
    name: 'build',
    root: buildRoot,
    mounts: [
      { source: pod.emptyDir, target: '/k8psh/bin', readOnly: true },
      { source: pod.workspace, target: '/src' },
    ],
    env: BUILD_ENV,
    command: [
      '/bin/sh',
      '-c',
      '/k8psh/bin/k8pshd --executable-directory=/stubs --name=build && echo stubs-ready && exec sleep 3600',
    ],
  });
  await build.waitForOutput(/stubs-ready/);

  await t.test('the build container has no compiler of its own', async (t) => {
    const stubs = await build.exec(['/bin/ls', '/stubs']);
    t.same(stubs.out.split('\n').filter(Boolean).sort(), [
      'cc',
      'gcc',
      'make',
      'pwd',
      'readlink',
      'stty',
      'tty',
      'uname',
    ]);
    const check = await build.exec([
      '/bin/sh',
      '-c',
      '[ ! -e /usr/bin/gcc ] && [ ! -e /bin/gcc ] && [ ! -e /usr/bin/make ] && ! PATH=/bin command -v gcc && command -v gcc && command -v make',
    ]);
    expectOk(t, check, 'no gcc or make in the root');
    t.equal(check.out, '/stubs/gcc\n/stubs/make\n', 'only the stubs are found');
    const node = await build.exec(['/bin/sh', '-c', 'command -v node || echo none']);
    t.equal(node.out, 'none\n', 'no node either');
    const write = await build.exec(['/bin/touch', '/k8psh/bin/x']);
    t.not(write.code, 0, 'the emptyDir is mounted read-only here');
  });

  await t.test('each container has its own PID namespace', async (t) => {
    const ps = await build.exec(['/bin/ps', '-o', 'pid,comm']);
    expectOk(t, ps, 'ps in the build container');
    t.match(ps.out, /^\s*1\s+sleep$/m, "the build container's main process is its PID 1");
    t.notMatch(ps.out, /k8pshd/, "the tools container's k8pshd is not visible");
    const toolsPs = await tools.exec(['/bin/ps', '-o', 'pid=,comm=', '-p', '1']);
    t.match(toolsPs.out, /^\s*1\s+k8pshd$/m, 'k8pshd is PID 1 of the tools container');
  });

  // Debian's busybox sh runs its own applets before searching PATH (uname, pwd, tty, stty are
  // applets), so the stubs named like applets are called by path here; gcc and make are not.
  await t.test('uname -n differs: local busybox vs the tools container', async (t) => {
    const local = await build.exec(['/bin/uname', '-n']);
    const remote = await build.exec(['/stubs/uname', '-n'], { cwd: '/src' });
    expectOk(t, local, 'local uname');
    expectOk(t, remote, 'remote uname');
    t.equal(local.out, 'build\n');
    t.equal(remote.out, 'tools\n');
  });

  await t.test('across containers the command writes into the pipe of the build container', async (t) => {
    // Passed descriptors: the abstract local socket belongs to the Pod's network namespace.
    const direct = await build.exec(['/bin/sh', '-c', '/stubs/readlink /proc/self/fd/1 | /bin/cat'], {
      cwd: '/src',
    });
    expectOk(t, direct, 'remote readlink, stdio passed');
    t.match(direct.out, /^pipe:\[\d+\]\n$/, "the build container's pipe itself");
    const relayed = await build.exec(
      ['/bin/sh', '-c', 'K8PSH_DIRECT_STDIO=0 /stubs/readlink /proc/self/fd/1 | /bin/cat'],
      { cwd: '/src' },
    );
    expectOk(t, relayed, 'remote readlink, relayed');
    t.match(relayed.out, /^socket:\[\d+\]\n$/, 'relayed: the server end of its own socket pair');
  });

  await t.test('the working directory maps from /src to /workspace', async (t) => {
    const result = await build.exec(['/stubs/pwd'], { cwd: '/src/hello' });
    expectOk(t, result, 'remote pwd');
    t.equal(result.out, '/workspace/hello\n');
    const outside = await build.exec(['/stubs/pwd'], { cwd: '/tmp' });
    t.equal(outside.code, 1, 'a directory outside the base directory is refused');
    t.match(outside.err, /outside the base directory/);
  });

  await t.test('make and gcc through the stubs; the program runs in the build container', async (t) => {
    const made = await build.exec(['make', 'CC=gcc'], { cwd: '/src/hello', timeoutMs: 60000 });
    expectOk(t, made, 'make (in tools) succeeded');
    t.match(made.out, /gcc -O2 -o hello hello\.c/);
    const hello = await build.exec(['./hello'], { cwd: '/src/hello' });
    expectOk(t, hello, './hello ran in the build container');
    t.equal(hello.out, 'hello from a k8psh Pod, running on build\n');

    const compiled = await build.exec(['gcc', '-O2', '-o', 'hello-gcc', 'hello.c'], { cwd: '/src/hello' });
    expectOk(t, compiled, 'gcc (in tools) succeeded');
    const again = await build.exec(['./hello-gcc'], { cwd: '/src/hello' });
    t.equal(again.out, 'hello from a k8psh Pod, running on build\n');

    const broken = await build.exec(['gcc', '-c', 'broken.c'], { cwd: '/src/hello' });
    t.equal(broken.code, 1, 'a compile error is exit code 1 in the build container');
    t.match(broken.err, /broken\.c:1:\d+: error/, "gcc's diagnostics arrive on stderr");
  });

  await t.test('a terminal session from the build container', async (t) => {
    // Exported: stty on PATH is a stub too, which the client must not run to set its raw mode.
    const session = await terminal(build, [
      '/bin/sh',
      '-c',
      'cd /src && export K8PSH_TTY=1 && /stubs/tty && /stubs/stty size',
    ]);
    t.equal(session.exitCode, 0, 'the session ended with 0', { output: session.output });
    t.match(session.output, /\/dev\/pts\/\d+/, 'with -t the remote command has a pseudo-terminal');
    t.match(session.output, /\b31 97\b/, 'of the client terminal size');
    // By default the build container's terminal itself is passed (docs/terminals.md): the remote
    // stty works on it, while its name belongs to the other container's devpts (tty: not a tty).
    const passed = await terminal(build, ['/bin/sh', '-c', 'cd /src && /stubs/stty size; /stubs/tty']);
    t.equal(passed.exitCode, 1, "tty cannot name another container's terminal", { output: passed.output });
    t.match(passed.output, /^31 97\r\nnot a tty\r\n$/, 'the client terminal itself, of its size');
  });

  // --- Shut down as the kubelet does: SIGTERM to the server's PID 1, SIGKILL the others.
  const toolsExit = await tools.stop(10000);
  t.same(toolsExit, { code: 0, signal: null }, 'k8pshd (PID 1 of tools) exits 0 on SIGTERM', {
    output: tools.output(),
  });
  t.match(tools.output(), /"stopped"/, 'and says so');
  await build.kill();
  t.notOk(build.running, 'build container killed');
  await pod.stopSandbox();
  // The kernel may need a moment to tear the namespaces down.
  let pids = await pod.netnsPids();
  for (let i = 0; i < 50 && pids.length > 0; i++) {
    await sleep(20);
    pids = await pod.netnsPids();
  }
  t.same(pids, [], 'nothing runs in the Pod network any more');

  await pod.destroy();
  const left = await pod.leftOvers();
  t.same(
    left,
    { netnsPids: [], netnsExists: false, mounts: [], processes: [], directoryExists: false },
    'no network namespace, mount, process or directory left',
  );
  t.comment(`Pod test took ${Date.now() - started} ms`);
});

function expectOk(t: Test, result: { code: number | null; out: string; err: string }, what: string): void {
  t.equal(result.code, 0, what, { stdout: result.out, stderr: result.err });
}

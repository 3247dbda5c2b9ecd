/**
 * The linux/arm64 executable under qemu-user (issue 16): its --version, an arm64 server with arm64
 * stubs running a passed-descriptor session and a relayed one (K8PSH_DIRECT_STDIO=0), and a terminal
 * session (-t: a pseudo-terminal from the arm64 node-pty). Everything arm64 here is the cross-built
 * front, Node, addons and glibc of dist/arm64/; only this test's driver runs on amd64.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  cleanup,
  freePort,
  makeWorkspace,
  run,
  startServer,
  runWithFiles,
  type Server,
  type Workspace,
} from '../e2e/harness.js';
import { terminal } from '../e2e/terminal.js';
import { ARM64_BIN, ARM64_DAEMON, ARM64_DIST, arm64Unavailable, isAarch64 } from './emulation.js';

/** Every start of an arm64 Node is emulated: about a second each here. */
const SLOW = { timeoutMs: 60000 };

t.test('the arm64 executable under qemu-user', { skip: arm64Unavailable() }, async (t) => {
  await t.test('it is arm64 through and through, and prints its version', async (t) => {
    t.ok(isAarch64(ARM64_BIN), 'the front is an aarch64 ELF');
    const runtime = readdirSync(ARM64_DIST).find((n) => n.startsWith('.k8psh-runtime-'));
    t.ok(runtime, 'a runtime directory beside it');
    for (const file of [
      'node',
      'ld-linux-aarch64.so.1',
      'libc.so.6',
      'libstdc++.so.6',
      'pty.node',
      'syscalls.node',
    ])
      t.ok(isAarch64(join(ARM64_DIST, runtime!, file)), `${file} is aarch64`);
    const version = await run(ARM64_BIN, ['--version'], SLOW);
    t.equal(version.code, 0, 'exit 0', { stderr: version.err });
    t.match(version.out, /^k8psh \S+.* node v24\.22\.3\n$/, 'k8psh and the pinned Node');
  });

  const port = await freePort();
  const ws: Workspace = await makeWorkspace(
    `
connectTimeoutMs = 20000
[ arm:${port} ]
sh
cat
tty
stty
uname
`,
    { daemon: ARM64_DAEMON, prefix: 'k8psh-arm64-' },
  );
  const env: NodeJS.ProcessEnv = { ...ws.env, TERM: 'xterm-256color' };
  delete env.K8PSH_TTY;
  const server: Server = await startServer(
    ['--name', 'arm'],
    port,
    { env, cwd: ws.dir },
    ARM64_DAEMON,
    60000,
  );
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const stub = (name: string): string => join(ws.bin, name);
  const dir = realpathSync(ws.dir);
  t.equal(
    realpathSync(stub('sh')),
    realpathSync(ARM64_DAEMON),
    'the stubs are links to the arm64 executable',
  );

  /** Runs `sh -c script` through the stub with files as stdin and stdout: how it ended and its stdout. */
  const withFiles = (script: string, input: string, extra: NodeJS.ProcessEnv = {}) =>
    runWithFiles(stub('sh'), ['-c', script], input, { dir, env: { ...env, ...extra } });
  const script = 'readlink /proc/self/fd/0 /proc/self/fd/1; cat; exit 3';

  await t.test('a passed-descriptor session: the command reads and writes the client files', async (t) => {
    const r = await withFiles(script, 'from the file\n');
    t.equal(r.code, 3, 'the exit status comes back', { stderr: r.stderr });
    t.equal(r.output, `${r.inputFile}\n${r.outputFile}\nfrom the file\n`);
  });

  await t.test('a relayed session (K8PSH_DIRECT_STDIO=0): the same bytes over TCP', async (t) => {
    const r = await withFiles(script, 'relayed\n', { K8PSH_DIRECT_STDIO: '0' });
    t.equal(r.code, 3, 'the exit status comes back', { stderr: r.stderr });
    const [stdinName, stdoutName, ...rest] = r.output.split('\n');
    t.not(stdinName, r.inputFile, 'stdin is not the client file');
    t.not(stdoutName, r.outputFile, 'stdout is not the client file');
    t.same(rest, ['relayed', ''], 'the input relayed through and back');
    const uname = await run(stub('uname'), ['-m'], { ...SLOW, env, cwd: dir });
    t.equal(uname.out, 'x86_64\n', "the command is the server machine's own uname (not emulated)");
  });

  await t.test('a terminal session (-t): a pseudo-terminal from the arm64 node-pty', async (t) => {
    const ttyEnv = { ...env, K8PSH_TTY: '1' };
    const tty = terminal(stub('tty'), [], { env: ttyEnv, cwd: dir, waitMs: 60000 });
    t.equal((await tty.exit).exitCode, 0, 'tty exits 0', { output: tty.output() });
    t.match(tty.output(), /\/dev\/pts\/\d+\r\n/, 'the remote command has a pseudo-terminal');
    const size = terminal(stub('stty'), ['size'], {
      env: ttyEnv,
      cwd: dir,
      cols: 101,
      rows: 33,
      waitMs: 60000,
    });
    t.equal((await size.exit).exitCode, 0);
    t.match(size.output(), /33 101/, "of the client terminal's size");
    const cat = terminal(stub('cat'), [], { env: ttyEnv, cwd: dir, waitMs: 60000 });
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the emulated start-up
    cat.write('typed here\r');
    await cat.waitFor(/typed here\r\n(.|\r|\n)*typed here/);
    cat.write('\x04');
    t.equal((await cat.exit).exitCode, 0, 'cat ends on ^D', { output: cat.output() });
  });
});

/**
 * Nothing of our runtime reaches a command the server spawns (issue 13, point 3): a server started
 * from an installed copy (front + .k8psh-runtime-<id>/ with its glibc loader and libraries) runs a
 * dynamically linked host program whose /proc/PID/environ is exactly its specs' environment (docs/configuration.md, "Env specs") and
 * whose /proc/PID/maps holds the host's C library, not ours. The server itself shows both (the
 * control: what is looked for is there to be found).
 */
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  BIN,
  cleanup,
  freePort,
  run,
  SKIP_UNBUILT,
  sleep,
  startServer,
  tempDir,
  writeFile,
} from './harness.js';

const ENV = '/usr/bin/env';
const BASE = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent', K8PSH_TTY: '0' };

function assignments(env: Record<string, string>): string[] {
  return Object.entries(env).map(([name, value]) => `${name}=${value}`);
}

/** Host pids of the direct children of a process. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

/** The files a process has mapped (the last field of /proc/PID/maps). */
function mappedFiles(pid: number): string[] {
  const files = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/).slice(5).join(' '))
    .filter((file) => file.startsWith('/'));
  return [...new Set(files)];
}

t.test(
  "a spawned command's environ and maps hold nothing of ours",
  { skip: SKIP_UNBUILT, timeout: 60000 },
  async (t) => {
    const dir = tempDir('k8psh-spawned-');
    t.teardown(() => cleanup(dir));
    const install = join(dir, 'volume'); // an emptyDir: it exists
    mkdirSync(install);
    const installed = await run(ENV, ['-i', ...assignments(BASE), BIN, '--install', join(install, 'k8pshd')]);
    t.equal(installed.code, 0, `k8psh --install: ${installed.err}`);
    const runtime = readdirSync(install).find((name) => name.startsWith('.k8psh-runtime-'));
    t.ok(runtime, 'the runtime directory is installed beside k8pshd');

    const port = await freePort();
    const config = writeFile(
      join(dir, 'k8psh.conf'),
      `baseDirectory = ${dir}\n[ server:${port} ]\nsleeper ?K8PSH_X= sleep\n`,
    );
    const env = { ...BASE, K8PSH_CONFIG: config, K8PSH_X: 'from-the-client' };
    const bin = join(dir, 'bin');
    const made = await run(ENV, [
      '-i',
      ...assignments(env),
      join(install, 'k8pshd'),
      '-e',
      bin,
      '--name',
      'client',
    ]);
    t.equal(made.code, 0, `stubs made by the installed copy: ${made.err}`);
    t.equal(
      readlinkSync(join(bin, 'sleeper')),
      join(install, 'k8pshd'),
      'a stub links to the installed copy',
    );

    const server = await startServer(
      [
        '-i',
        ...assignments({ ...env, LD_LIBRARY_PATH: '/nonexistent' }),
        join(install, 'k8pshd'),
        '--name',
        'server',
      ],
      port,
      { cwd: dir },
      ENV,
    );
    t.teardown(() => server.stop('SIGKILL'));
    const serverPid = server.process.pid!;

    const stub = run(ENV, ['-i', ...assignments(env), join(bin, 'sleeper'), '2'], { cwd: dir });
    let sleepPid: number | undefined;
    for (let i = 0; i < 200 && sleepPid === undefined; i++) {
      sleepPid = childrenOf(serverPid).find((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep');
        } catch {
          return false;
        }
      });
      if (sleepPid === undefined) await sleep(20);
    }
    t.ok(sleepPid, 'the server spawned sleep');
    if (sleepPid !== undefined) {
      t.same(environ(sleepPid), ['K8PSH_X=from-the-client'], 'its environment: exactly its specs');
      const files = mappedFiles(sleepPid);
      t.ok(
        files.some((file) => /\/libc\.so\.6$/.test(file) && !file.startsWith(install)),
        "the host's libc",
        { files },
      );
      t.same(
        files.filter((file) => file.startsWith(install) || file.includes('k8psh')),
        [],
        'no file of the installed volume or runtime mapped',
      );
    }

    // The control: the server itself runs on the bundled loader and libraries, with our variable.
    const serverFiles = mappedFiles(serverPid);
    t.ok(
      serverFiles.some(
        (file) => file.startsWith(join(install, runtime ?? '?')) && file.endsWith('/libc.so.6'),
      ),
      "the server maps the runtime's libc",
      { serverFiles },
    );
    t.ok(
      environ(serverPid).some((entry) => entry.startsWith('K8PSH_SELF=')),
      'the server has K8PSH_SELF, which its command does not',
    );
    t.ok(
      environ(serverPid).includes('K8PSH_STASH_LD_LIBRARY_PATH=/nonexistent'),
      'and the stashed LD_LIBRARY_PATH',
    );

    const result = await stub;
    t.equal(result.code, 0, `the stub ends with sleep's status: ${result.err}`);
  },
);

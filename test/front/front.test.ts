/**
 * The front executable (native/front) built with AddressSanitizer and UBSan (glibc gcc), its
 * payload a fake runtime whose "loader" is a shell script that prints what it was given: the exec
 * path (runtime beside the real path, else unpacked into the private cache), the caller's
 * environment stash, and --install (runtime directory + front alone, atomic, from an installed copy
 * too), each run under the sanitizers (any report fails the run: it exits non-zero).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { assemble, RUNTIME_PREFIX } from '../../scripts/payload.mjs';
import { compileSanitized } from '../lib/sanitized.js';
import { encodeTable, tableFileName, writeTable, type StubTable } from '../lib/stub-table.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sources = fs
  .readdirSync(path.join(root, 'native/front'))
  .filter((f) => f.endsWith('.c'))
  .map((f) => path.join(root, 'native/front', f));

const work = fs.mkdtempSync('/tmp/k8psh-front-test-');
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

const front = path.join(work, 'front-asan');
const compiled = compileSanitized(front, sources);

/** The fake runtime: the "loader" prints its arguments and environment, one per line. */
const staged = path.join(work, 'staged');
fs.mkdirSync(staged);
const loaderScript = '#!/bin/sh\nfor a in "$0" "$@"; do echo "arg $a"; done\nenv | sed "s/^/env /"\n';
fs.writeFileSync(path.join(staged, 'ld-linux-x86-64.so.2'), loaderScript, { mode: 0o755 });
fs.writeFileSync(path.join(staged, 'node'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
fs.writeFileSync(path.join(staged, 'pty.node'), 'addon bytes', { mode: 0o644 });
const entries = ['node', 'ld-linux-x86-64.so.2', 'pty.node'].map((name) => ({
  name,
  file: path.join(staged, name),
  mode: name === 'pty.node' ? 0o644 : 0o755,
}));
const bundle = path.join(work, 'one', 'k8psh');
fs.mkdirSync(path.dirname(bundle));
const id = compiled.status === 0 ? assemble(front, entries, bundle) : '';
const runtimeName = `${RUNTIME_PREFIX}${id}`;

// Sanitizer reports make the process exit non-zero; leaks are checked on every return from main.
const sanitizerEnv = {
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:exitcode=86',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
};

/** Whether this test may make /tmp read-only in a mount namespace of its own. */
function canMountReadOnlyTmp(): boolean {
  return process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true']).status === 0;
}

/** The runtime directory name a bundle would unpack to: its trailer's build id. */
function runtimeNameOf(file: string): string {
  const trailer = fs.readFileSync(file).subarray(-48);
  return `${RUNTIME_PREFIX}${trailer.subarray(8, 32).toString('latin1').replace(/\0+$/, '')}`;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  args: string[];
  env: Map<string, string>;
}

function run(file: string, args: string[], env: Record<string, string> = {}, argv0?: string): Run {
  const result = spawnSync(file, args, {
    argv0,
    env: { PATH: '/usr/bin:/bin', ...sanitizerEnv, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const lines = result.stdout.split('\n');
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    args: lines.filter((l) => l.startsWith('arg ')).map((l) => l.slice(4)),
    env: new Map(
      lines
        .filter((l) => l.startsWith('env '))
        .map((l) => [l.slice(4, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
    ),
  };
}

t.test(
  'the front',
  { skip: compiled.status === 0 ? false : `no ASan build: ${compiled.stderr}` },
  async (t) => {
    t.test('the one file alone unpacks its runtime into the private cache, then reuses it', async (t) => {
      const home = path.join(work, 'home');
      fs.mkdirSync(home);
      const first = run(bundle, ['--flag', 'x y'], { HOME: home });
      t.equal(first.status, 0, first.stderr);
      t.equal(first.stderr, '');
      const cached = path.join(home, '.cache/k8psh', runtimeName);
      t.same(first.args, [
        path.join(cached, 'ld-linux-x86-64.so.2'),
        '--library-path',
        cached,
        '--argv0',
        bundle,
        path.join(cached, 'node'),
        '--flag',
        'x y',
      ]);
      t.equal(fs.statSync(path.join(home, '.cache/k8psh')).mode & 0o777, 0o700, 'a private cache');
      t.same(fs.readdirSync(cached).sort(), ['ld-linux-x86-64.so.2', 'node', 'pty.node']);
      t.equal(fs.statSync(path.join(cached, 'pty.node')).mode & 0o777, 0o644);
      t.equal(fs.readFileSync(path.join(cached, 'pty.node'), 'utf8'), 'addon bytes');
      const inode = fs.statSync(path.join(cached, 'node')).ino;
      const second = run(bundle, [], { HOME: home });
      t.equal(second.status, 0, second.stderr);
      t.equal(fs.statSync(path.join(cached, 'node')).ino, inode, 'unpacked once');
      t.same(fs.readdirSync(path.join(home, '.cache/k8psh')), [runtimeName], 'no temporary directory left');
    });

    t.test('a cache directory of another owner is refused: the next candidate serves', async (t) => {
      const shared = path.join(work, 'foreign-cache');
      fs.mkdirSync(shared, { mode: 0o777 });
      fs.chmodSync(shared, 0o777);
      fs.chownSync(shared, 65534, 65534);
      const home = path.join(work, 'home2');
      fs.mkdirSync(home);
      const result = run(bundle, [], { K8PSH_CACHE_DIR: shared, HOME: home });
      t.equal(result.status, 0, result.stderr);
      t.equal(result.args[2], path.join(home, '.cache/k8psh', runtimeName));
      t.same(fs.readdirSync(shared), [], 'nothing written into it');
    });

    t.test(
      "the caller's Node, libuv, OpenSSL and loader variables are stashed; K8PSH_SELF added",
      async (t) => {
        const home = path.join(work, 'home');
        const result = run(bundle, [], {
          HOME: home,
          NODE_OPTIONS: '--require /x.js',
          NODE_DEBUG: 'net',
          UV_THREADPOOL_SIZE: '1',
          OPENSSL_CONF: '/x',
          LD_BIND_NOW: '1',
          GLIBC_TUNABLES: 'glibc.malloc.check=3',
          FORCE_COLOR: '3',
          FORCE_COLORS: 'not ours',
          K8PSH_STASH_ALREADY: 'kept',
          K8PSH_SELF: 'caller value',
          NODEX: 'not ours',
          KEEP: 'a=b',
        });
        t.equal(result.status, 0, result.stderr);
        for (const name of [
          'NODE_OPTIONS',
          'UV_THREADPOOL_SIZE',
          'NODE_DEBUG',
          'OPENSSL_CONF',
          'LD_BIND_NOW',
          'GLIBC_TUNABLES',
          'FORCE_COLOR',
          'K8PSH_STASH_ALREADY',
        ])
          t.notOk(result.env.has(name), `${name} is not seen under its name`);
        // tap adds its own --import to a child's NODE_OPTIONS: ours is there, stashed.
        t.match(result.env.get('K8PSH_STASH_NODE_OPTIONS'), /\/x\.js/);
        t.equal(result.env.get('K8PSH_STASH_NODE_DEBUG'), 'net');
        t.equal(result.env.get('K8PSH_STASH_UV_THREADPOOL_SIZE'), '1');
        t.equal(result.env.get('K8PSH_STASH_OPENSSL_CONF'), '/x');
        t.equal(result.env.get('K8PSH_STASH_LD_BIND_NOW'), '1');
        t.equal(result.env.get('K8PSH_STASH_GLIBC_TUNABLES'), 'glibc.malloc.check=3');
        t.equal(result.env.get('K8PSH_STASH_FORCE_COLOR'), '3');
        t.equal(result.env.get('FORCE_COLORS'), 'not ours', 'a whole name, not a prefix');
        t.equal(result.env.get('K8PSH_STASH_K8PSH_STASH_ALREADY'), 'kept', 'stashed again: restored exactly');
        t.equal(result.env.get('K8PSH_STASH_K8PSH_SELF'), 'caller value');
        t.equal(result.env.get('K8PSH_SELF'), bundle, 'our real path');
        t.equal(result.env.get('NODEX'), 'not ours');
        t.equal(result.env.get('KEEP'), 'a=b');
      },
    );

    t.test(
      'a stub hands over with K8PSH_STUB_CACHE only when its table is missing or not valid',
      async (t) => {
        const cacheDir = path.join(work, 'stub-cache');
        const config = path.join(work, 'stub.conf');
        fs.writeFileSync(config, '[ srv:1 ]\ngcc\n');
        const file = path.join(cacheDir, tableFileName(id, config));
        const env = { K8PSH_CACHE_DIR: cacheDir, K8PSH_CONFIG: config, K8PSH_STUB_CACHE: '/from/the/caller' };
        const stub = (extra: Record<string, string> = {}): Run =>
          run(bundle, ['-c', 'x'], { ...env, ...extra }, 'gcc');
        const passed = (r: Run): string[] =>
          r.stdout.split('\n').filter((line) => line.startsWith('env K8PSH_STUB_CACHE='));

        const missing = stub();
        t.equal(missing.status, 0, missing.stderr);
        t.same(passed(missing), [`env K8PSH_STUB_CACHE=${file}`], "where to write it; the caller's is gone");
        t.same(missing.args.slice(-2), ['-c', 'x'], 'argv as it was');
        t.equal(missing.args[4], 'gcc', 'the invoked name as it was');
        const refused = stub({ K8PSH_NATIVE: '1' });
        t.same([refused.status, refused.stdout], [125, '']);
        t.equal(refused.stderr, `k8psh: not native: no table at ${file}\n`);

        fs.writeFileSync(file, 'K8PSHNS2 and not much else', { mode: 0o600 });
        const damaged = stub();
        t.same(passed(damaged), [`env K8PSH_STUB_CACHE=${file}`], 'a damaged table is rewritten');
        t.match(
          stub({ K8PSH_NATIVE: '1' }).stderr,
          /^k8psh: not native: the table at .* is not valid \(bad header\)\n$/,
        );

        const valid = (commands: StubTable['commands']): void => {
          writeTable(
            cacheDir,
            id,
            config,
            encodeTable({
              buildId: id,
              key: config,
              configVariable: config,
              config: fs.readFileSync(config),
              variables: [],
              baseDirectory: '/',
              commands,
            }),
          );
        };
        valid([{ name: 'cc', host: 'srv', port: 1, names: [] }]);
        t.same(passed(stub()), [], 'a valid table: nothing to write (not a command of it: handed over)');
        t.equal(stub({ K8PSH_NATIVE: '1' }).stderr, 'k8psh: not native: gcc is not a command of the table\n');
        valid([{ name: 'gcc', host: 'srv', port: 1, names: [] }]);
        const noServer = stub();
        t.equal(noServer.status, 0, noServer.stderr);
        t.same(passed(noServer), [], 'no server: handed over, nothing to write');
        t.match(
          stub({ K8PSH_NATIVE: '1' }).stderr,
          /^k8psh: not native: no local socket for port 1 \(Connection refused\)\n$/,
        );
        t.same(passed(stub({ K8PSH_NATIVE: '0' })), [], 'K8PSH_NATIVE=0: decided before the table');
        t.same(passed(run(bundle, [], env)), [], "not a stub: a caller's K8PSH_STUB_CACHE is removed");
      },
    );

    t.test('--install writes the runtime directory and the front alone; installed copies run', async (t) => {
      const volume = path.join(work, 'volume');
      fs.mkdirSync(volume);
      const target = path.join(volume, 'k8pshd');
      const result = run(bundle, ['--install', target], {}, 'k8psh');
      t.equal(result.status, 0, result.stderr);
      t.equal(result.stdout, '', 'nothing started: the fake loader would have printed');
      t.same(fs.readdirSync(volume).sort(), [runtimeName, 'k8pshd']);
      const frontSize = fs.statSync(front).size;
      t.equal(fs.statSync(target).size, frontSize + 48, 'the front and a trailer, no payload');
      t.equal(fs.statSync(target).mode & 0o777, 0o755);
      t.equal(
        fs.statSync(path.join(volume, runtimeName)).mode & 0o777,
        0o755,
        'readable by every container user',
      );
      t.equal(fs.readFileSync(path.join(volume, runtimeName, 'pty.node'), 'utf8'), 'addon bytes');

      // A stub: a symlink named like a command, to the installed front.
      const stub = path.join(work, 'gcc');
      fs.symlinkSync(target, stub);
      const started = run(stub, ['-c', 'x.c'], { HOME: '/nonexistent' });
      t.equal(started.status, 0, started.stderr);
      t.same(started.args.slice(0, 6), [
        path.join(volume, runtimeName, 'ld-linux-x86-64.so.2'),
        '--library-path',
        path.join(volume, runtimeName),
        '--argv0',
        stub,
        path.join(volume, runtimeName, 'node'),
      ]);
      t.equal(started.env.get('K8PSH_SELF'), target, 'the real path, not the stub');

      // The volume elsewhere (another mount path): the runtime is found beside the real path.
      const moved = path.join(work, 'elsewhere');
      fs.renameSync(volume, moved);
      const again = run(path.join(moved, 'k8pshd'), [], { HOME: '/nonexistent' });
      t.equal(again.status, 0, again.stderr);
      t.equal(again.args[2], path.join(moved, runtimeName));
      fs.renameSync(moved, volume);

      // --install from an installed copy: links (same filesystem) its runtime and itself.
      const second = path.join(work, 'second');
      fs.mkdirSync(second);
      const fromCopy = run(target, [`--install=${path.join(second, 'k8psh')}`], {}, 'k8psh');
      t.equal(fromCopy.status, 0, fromCopy.stderr);
      t.equal(
        fs.statSync(path.join(second, 'k8psh')).ino,
        fs.statSync(target).ino,
        'a hard link, as the original',
      );
      t.same(fs.readdirSync(path.join(second, runtimeName)).sort(), [
        'ld-linux-x86-64.so.2',
        'node',
        'pty.node',
      ]);
      t.equal(
        fs.statSync(path.join(second, runtimeName, 'node')).ino,
        fs.statSync(path.join(volume, runtimeName, 'node')).ino,
      );
      t.same(fs.readdirSync(second).sort(), [runtimeName, 'k8psh'], 'no temporary file left');

      const over = run(bundle, ['--install', target], {}, 'k8psh');
      t.equal(over.status, 0, 'installing over an existing installation works');
    });

    t.test(
      'nowhere to write: the runtime runs from memory files, their descriptors listed',
      { skip: canMountReadOnlyTmp() ? false : 'needs root and unshare to make /tmp read-only' },
      async (t) => {
        const loader = path.join(work, 'fake-loader');
        const built = spawnSync(
          'gcc',
          ['-Wall', '-Wextra', '-Werror', '-o', loader, path.join(root, 'test/front/fixtures/fake-loader.c')],
          {
            encoding: 'utf8',
          },
        );
        t.equal(built.status, 0, built.stderr);
        const memoryEntries = entries.map((e) =>
          e.name === 'ld-linux-x86-64.so.2' ? { ...e, file: loader } : e,
        );
        memoryEntries.push({ name: 'libc.so.6', file: path.join(staged, 'pty.node'), mode: 0o755 });
        const alone = path.join(work, 'memory', 'k8psh');
        fs.mkdirSync(path.dirname(alone));
        assemble(front, memoryEntries, alone);
        // /tmp read-only (this test's files are under it), no HOME, no TMPDIR: no cache can be made.
        const result = spawnSync(
          'unshare',
          [
            '--mount',
            'sh',
            '-c',
            'mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp && exec "$@"',
            'sh',
            alone,
            'a b',
          ],
          { env: { PATH: '/usr/bin:/bin', ...sanitizerEnv }, encoding: 'utf8', timeout: 30_000 },
        );
        t.equal(result.status, 0, result.stderr);
        const lines = result.stdout.split('\n');
        const args = lines.filter((l) => l.startsWith('arg ')).map((l) => l.slice(4));
        const fds = new Map(
          lines.filter((l) => l.startsWith('fd ')).map((l) => l.slice(3).split(' ', 2) as [string, string]),
        );
        const listed =
          lines.find((l) => l.startsWith('env K8PSH_FDS='))?.slice('env K8PSH_FDS='.length) ?? '';
        const byName = new Map(
          listed
            .split(',')
            .filter(Boolean)
            .map((item) => item.split('=') as [string, string]),
        );
        t.same(
          [...byName.keys()].sort(),
          ['libc.so.6', 'node', 'pty.node'],
          'every file but the loader listed',
        );
        for (const [name, fd] of byName) t.match(fds.get(fd), `/memfd:${name}`, `${name} is a memory file`);
        t.same(args, [
          'ld-linux-x86-64.so.2',
          '--preload',
          `/proc/self/fd/${byName.get('libc.so.6')}`,
          '--argv0',
          alone,
          `/proc/self/fd/${byName.get('node')}`,
          'a b',
        ]);
        t.notOk(
          [...fds.values()].some((target) => target.includes('ld-linux')),
          'the loader runs close-on-exec',
        );
        t.notOk(
          fs.existsSync('/tmp/k8psh-0') &&
            fs.readdirSync('/tmp/k8psh-0').some((n) => n.includes(runtimeNameOf(alone))),
          'nothing unpacked',
        );
      },
    );

    t.test('clear one-line errors, no sanitizer report', async (t) => {
      const missing = run(bundle, ['--install', '/nonexistent/dir/k8pshd'], {}, 'k8psh');
      t.equal(missing.status, 1);
      t.equal(
        missing.stderr,
        'k8psh: cannot install to /nonexistent/dir/k8pshd: No such file or directory\n',
      );
      const directory = run(bundle, ['--install', work], {}, 'k8psh');
      t.equal(directory.status, 1);
      t.match(directory.stderr, /^k8psh: cannot install to .*: Is a directory\n$/);

      const damaged = path.join(work, 'damaged');
      fs.copyFileSync(front, damaged);
      fs.chmodSync(damaged, 0o755);
      const noTable = run(damaged, []);
      t.equal(noTable.status, 127);
      t.equal(noTable.stderr, `k8psh: ${damaged}: no runtime table at its end (damaged, or not k8psh)\n`);

      const lonely = path.join(work, 'lonely');
      fs.mkdirSync(lonely);
      fs.copyFileSync(path.join(work, 'volume', 'k8pshd'), path.join(lonely, 'k8pshd'));
      fs.chmodSync(path.join(lonely, 'k8pshd'), 0o755);
      const noRuntime = run(path.join(lonely, 'k8pshd'), []);
      t.equal(noRuntime.status, 127);
      t.equal(
        noRuntime.stderr,
        `k8psh: its runtime ${path.join(lonely, runtimeName)} is missing: install again with k8psh --install\n`,
      );

      // The front, then a trailer whose table claims an entry that is not there.
      const truncated = path.join(work, 'truncated');
      const trailer = Buffer.from(fs.readFileSync(bundle).subarray(-48));
      trailer.writeUInt32LE(1, 40);
      fs.writeFileSync(truncated, Buffer.concat([fs.readFileSync(front), trailer]), { mode: 0o755 });
      const bad = run(truncated, []);
      t.equal(bad.status, 127, 'a table pointing outside the file is refused');
      t.match(bad.stderr, /no runtime table/);
    });
  },
);

/**
 * The native-addon cache of the single executable (src/native/cache.ts), run from the sources with
 * node-pty's real pty.node: where the file goes, its permissions, reuse, replacement of a damaged
 * file, and the temporary-directory fallback.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { cacheDirectory, cacheRoot, loadNative } from '../../src/native/cache.js';
import { sha256 } from '../../src/native/digest.js';

const require = createRequire(import.meta.url);
const ptyFile = require.resolve('node-pty/build/Release/pty.node');
const ptyBytes = new Uint8Array(fs.readFileSync(ptyFile));
const digest = sha256(ptyBytes);
const VERSION = '9.8.7';

/** A dlopen that records the content it was asked to load (so a damaged file would be seen). */
function recordingDlopen(): {
  dlopen: (file: string) => unknown;
  loaded: { file: string; sha256: string }[];
} {
  const loaded: { file: string; sha256: string }[] = [];
  return {
    loaded,
    dlopen: (file: string) => {
      loaded.push({ file, sha256: sha256(fs.readFileSync(file)) });
      return { fake: true };
    },
  };
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

function k8pshTempDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((name) => /^k8psh-[A-Za-z0-9]{6}$/.test(name));
}

t.test('cacheRoot: K8PSH_CACHE_DIR, then XDG_CACHE_HOME, then HOME; relative values ignored', async (t) => {
  t.equal(cacheRoot({ K8PSH_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/c');
  t.equal(cacheRoot({ XDG_CACHE_HOME: '/x', HOME: '/h' }), '/x/k8psh');
  t.equal(cacheRoot({ XDG_CACHE_HOME: 'rel', HOME: '/h' }), '/h/.cache/k8psh');
  t.equal(cacheRoot({ HOME: '/h' }), '/h/.cache/k8psh');
  t.equal(cacheRoot({ HOME: 'h' }), undefined);
  t.equal(cacheRoot({}), undefined);
  t.equal(cacheDirectory('/r', '0.1.0', digest), `/r/0.1.0-${digest.slice(0, 16)}`);
  t.equal(cacheDirectory('/r', '1 (x/y)', 'ab'), '/r/1__x_y_-ab');
});

t.test('first use writes a private cache; the second reuses it after verifying it', async (t) => {
  const home = t.testdir();
  const first = recordingDlopen();
  const a = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env: { HOME: home },
    dlopen: first.dlopen,
  });
  const dir = path.join(home, '.cache', 'k8psh', `${VERSION}-${digest.slice(0, 16)}`);
  t.equal(a.source, 'cache');
  t.equal(a.reused, false);
  t.equal(a.path, path.join(dir, 'pty.node'));
  t.equal(a.sha256, digest);
  t.same(first.loaded, [{ file: a.path, sha256: digest }]);
  t.equal(mode(dir), 0o700, 'version directory is 0700');
  t.equal(mode(path.dirname(dir)), 0o700, 'k8psh directory is 0700');
  t.equal(mode(path.join(home, '.cache')), 0o700, 'a created ~/.cache is 0700 too');
  t.same(fs.readdirSync(dir), ['pty.node'], 'no temporary file left behind');
  const before = fs.statSync(a.path);

  const second = recordingDlopen();
  const b = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env: { HOME: home },
    dlopen: second.dlopen,
  });
  t.equal(b.source, 'cache');
  t.equal(b.reused, true);
  t.equal(b.path, a.path);
  t.equal(fs.statSync(b.path).ino, before.ino, 'same file, not rewritten');
  t.same(second.loaded, [{ file: a.path, sha256: digest }]);
});

t.test('a truncated or tampered cached file is replaced, never loaded', async (t) => {
  const home = t.testdir();
  const env = { XDG_CACHE_HOME: home };
  const { path: file } = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env,
    dlopen: () => ({}),
  });
  for (const damage of [
    () => fs.truncateSync(file, 1000),
    () => {
      const bytes = fs.readFileSync(file);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
      fs.writeFileSync(file, bytes);
    },
    () => fs.writeFileSync(file, ''),
  ]) {
    damage();
    t.not(sha256(fs.readFileSync(file)), digest, 'damaged');
    const recorder = recordingDlopen();
    const loaded = loadNative({
      name: 'pty.node',
      data: ptyBytes,
      digest,
      version: VERSION,
      env,
      dlopen: recorder.dlopen,
    });
    t.equal(loaded.source, 'cache');
    t.equal(loaded.reused, false, 'rewritten');
    t.same(recorder.loaded, [{ file, sha256: digest }], 'only the good content was loaded');
    t.equal(sha256(fs.readFileSync(file)), digest, 'file repaired');
  }
});

t.test('a symlink in place of the cached file is replaced by a regular file', async (t) => {
  const home = t.testdir({ decoy: 'not an addon' });
  const env = { K8PSH_CACHE_DIR: path.join(home, 'cache') };
  const dir = cacheDirectory(env.K8PSH_CACHE_DIR, VERSION, digest);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.symlinkSync(path.join(home, 'decoy'), path.join(dir, 'pty.node'));
  const recorder = recordingDlopen();
  const loaded = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env,
    dlopen: recorder.dlopen,
  });
  t.equal(loaded.source, 'cache');
  t.ok(fs.lstatSync(loaded.path).isFile(), 'regular file now');
  t.equal(fs.readFileSync(path.join(home, 'decoy'), 'utf8'), 'not an addon', 'symlink target untouched');
  t.same(recorder.loaded, [{ file: loaded.path, sha256: digest }]);
});

t.test('an existing directory of ours open to others is made private', async (t) => {
  const home = t.testdir();
  const env = { K8PSH_CACHE_DIR: path.join(home, 'cache') };
  const dir = cacheDirectory(env.K8PSH_CACHE_DIR, VERSION, digest);
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(env.K8PSH_CACHE_DIR, 0o777);
  fs.chmodSync(dir, 0o775);
  const loaded = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env,
    dlopen: () => ({}),
  });
  t.equal(loaded.source, 'cache');
  t.equal(mode(dir), 0o700);
  t.equal(mode(env.K8PSH_CACHE_DIR), 0o700);
});

t.test('a symlinked cache directory is refused: temporary directory instead', async (t) => {
  const home = t.testdir({ elsewhere: {} });
  const env = { K8PSH_CACHE_DIR: path.join(home, 'cache') };
  const dir = cacheDirectory(env.K8PSH_CACHE_DIR, VERSION, digest);
  fs.mkdirSync(env.K8PSH_CACHE_DIR, { mode: 0o700 });
  fs.symlinkSync(path.join(home, 'elsewhere'), dir);
  const loaded = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env,
    dlopen: () => ({}),
  });
  t.equal(loaded.source, 'temp');
  t.match(loaded.cacheError, /not a directory/);
  t.same(fs.readdirSync(path.join(home, 'elsewhere')), [], 'nothing written through the symlink');
});

t.test('unusable HOME falls back to a private temporary directory, removed after loading', async (t) => {
  const file = path.join(t.testdir({ 'a-file': 'x' }), 'a-file');
  const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['HOME=/proc (mkdir fails with ENOENT, must not loop)', { HOME: '/proc' }, /ENOENT/],
    ['HOME is a file', { HOME: file }, /ENOTDIR|not a directory/],
    ['HOME unset', {}, /no cache directory/],
    ['HOME relative', { HOME: 'relative/home' }, /no cache directory/],
  ];
  for (const [name, env, why] of cases) {
    const before = new Set(k8pshTempDirs());
    let seenMode = -1;
    const recorder = recordingDlopen();
    const loaded = loadNative({
      name: 'pty.node',
      data: ptyBytes,
      digest,
      version: VERSION,
      env,
      dlopen: (f) => {
        seenMode = mode(path.dirname(f));
        return recorder.dlopen(f);
      },
    });
    t.equal(loaded.source, 'temp', name);
    t.match(loaded.cacheError, why, name);
    t.ok(loaded.path.startsWith(path.join(os.tmpdir(), 'k8psh-')), `${name}: under ${os.tmpdir()}`);
    t.equal(seenMode, 0o700, `${name}: private directory`);
    t.same(recorder.loaded, [{ file: loaded.path, sha256: digest }], name);
    t.notOk(fs.existsSync(path.dirname(loaded.path)), `${name}: removed after loading`);
    t.same(
      k8pshTempDirs().filter((d) => !before.has(d)),
      [],
      `${name}: no new k8psh-* left in tmpdir`,
    );
  }
});

t.test('a cached file that fails to load (e.g. a noexec mount) falls back to a temporary one', async (t) => {
  const home = t.testdir();
  const tried: string[] = [];
  const loaded = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env: { HOME: home },
    dlopen: (f) => {
      tried.push(f);
      if (f.startsWith(home)) throw new Error('failed to map segment from shared object');
      return { ok: true };
    },
  });
  t.equal(loaded.source, 'temp');
  t.match(loaded.cacheError, /failed to map segment/);
  t.equal(tried.length, 2);
  t.same(loaded.exports, { ok: true });
});

t.test('the real pty.node loads through the cache with process.dlopen', async (t) => {
  const home = t.testdir();
  const loaded = loadNative({
    name: 'pty.node',
    data: ptyBytes,
    digest,
    version: VERSION,
    env: { HOME: home },
  });
  t.equal(loaded.source, 'cache');
  const exports = loaded.exports as Record<string, unknown>;
  for (const name of ['fork', 'open', 'resize', 'process']) t.type(exports[name], 'function', name);
});

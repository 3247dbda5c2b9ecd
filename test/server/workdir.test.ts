import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openWorkingDirectory, walkBeneath } from '../../src/server/workdir.js';

t.test('the working directory is opened inside the base', async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'k8psh-wd-')));
  const outside = mkdtempSync(join(tmpdir(), 'k8psh-out-'));
  t.teardown(() => {
    rmSync(base, { recursive: true });
    rmSync(outside, { recursive: true });
  });
  mkdirSync(join(base, 'a/b'), { recursive: true });
  writeFileSync(join(base, 'file'), '');
  symlinkSync(outside, join(base, 'escape'));
  symlinkSync('a', join(base, 'inner'));
  symlinkSync(join(base, 'a'), join(base, 'absolute'));

  /** The path reported, and whether the descriptor is that directory. */
  const opened = (requested: string): { path: string; same: boolean } | { error: string } => {
    const result = openWorkingDirectory(base, requested);
    if ('error' in result) return result;
    const same = fstatSync(result.fd).ino === statSync(result.path).ino;
    closeSync(result.fd);
    return { path: result.path, same };
  };
  t.same(opened(''), { path: base, same: true }, 'empty: the base itself');
  t.same(opened('a/b'), { path: join(base, 'a/b'), same: true });
  t.same(opened('a/b/'), { path: join(base, 'a/b'), same: true }, 'a trailing slash');
  t.same(opened('a/../a/b'), { path: join(base, 'a/b'), same: true }, '.. that stays inside is fine');
  t.same(opened('inner/b'), { path: join(base, 'inner/b'), same: true }, 'a relative symlink inside');
  t.same(opened('escape/..'), { path: base, same: true }, '.. is taken as written, before symlinks');
  const refused = (requested: string, reason: string): string =>
    `invalid working directory "${requested.replace('\0', '?')}" (${reason})`;
  t.same(opened('../x'), { error: refused('../x', 'outside the base directory') });
  t.same(opened('a/../../..'), { error: refused('a/../../..', 'outside the base directory') });
  t.same(opened('/etc'), {
    error: refused('/etc', 'absolute; it must be relative to the base directory'),
  });
  t.same(opened('a\0b'), { error: refused('a\0b', 'contains NUL') });
  const symlink = 'a symlink leads outside the base directory or is absolute';
  t.same(opened('escape'), { error: refused('escape', symlink) });
  t.same(opened('absolute/b'), { error: refused('absolute/b', symlink) }, 'absolute, even pointing inside');
  t.same(opened('nope'), { error: `working directory ${join(base, 'nope')} does not exist` });
  t.same(opened('file'), { error: `working directory ${join(base, 'file')} is not a directory` });
});

t.test('without the addon: one component at a time, no symlink at all', async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'k8psh-walk-')));
  t.teardown(() => rmSync(base, { recursive: true }));
  mkdirSync(join(base, 'a/b'), { recursive: true });
  writeFileSync(join(base, 'file'), '');
  symlinkSync('a', join(base, 'inner'));
  const fd = walkBeneath(base, 'a/b');
  t.equal(fstatSync(fd).ino, statSync(join(base, 'a/b')).ino, 'the directory itself');
  closeSync(fd);
  t.throws(() => walkBeneath(base, 'inner/b'), { code: 'ELOOP' }, 'a symlink, even inside');
  t.throws(() => walkBeneath(base, 'a/nope'), { code: 'ENOENT' });
  t.throws(() => walkBeneath(base, 'file'), { code: 'ENOTDIR' });
});

import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { resolveWorkingDirectory } from '../../src/server/workdir.js';

t.test('the working directory stays inside the base', async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'k8psh-wd-')));
  const outside = mkdtempSync(join(tmpdir(), 'k8psh-out-'));
  t.teardown(() => {
    rmSync(base, { recursive: true });
    rmSync(outside, { recursive: true });
  });
  mkdirSync(join(base, 'a/b'), { recursive: true });
  symlinkSync(outside, join(base, 'escape'));
  symlinkSync(join(base, 'a'), join(base, 'inner'));

  t.same(resolveWorkingDirectory(base, ''), { path: base }, 'empty: the base itself');
  t.same(resolveWorkingDirectory(base, 'a/b'), { path: join(base, 'a/b') });
  t.same(
    resolveWorkingDirectory(base, 'a/../a/b'),
    { path: join(base, 'a/b') },
    '.. that stays inside is fine',
  );
  t.same(
    resolveWorkingDirectory(base, 'inner/b'),
    { path: join(base, 'inner/b') },
    'a symlink inside the base is fine',
  );
  t.match(resolveWorkingDirectory(base, '../x'), { error: /outside the base directory/ });
  t.match(resolveWorkingDirectory(base, 'a/../../..'), { error: /outside the base directory/ });
  t.match(resolveWorkingDirectory(base, '/etc'), { error: /absolute/ });
  t.match(resolveWorkingDirectory(base, 'a\0b'), { error: /contains NUL/ });
  t.match(resolveWorkingDirectory(base, 'escape'), { error: /symlink leads outside/ });
  t.match(resolveWorkingDirectory(base, 'nope'), { error: /does not exist/ });
});

import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { relativeWorkingDirectory } from '../../src/client/workdir.js';

t.test('the client sends its directory relative to the physical base', async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'k8psh-cwd-')));
  t.teardown(() => rmSync(base, { recursive: true }));
  mkdirSync(join(base, 'real/sub'), { recursive: true });
  symlinkSync(join(base, 'real'), join(base, 'link'));
  t.equal(relativeWorkingDirectory(base, base), '');
  t.equal(relativeWorkingDirectory(base, join(base, 'real/sub')), 'real/sub');
  t.equal(
    relativeWorkingDirectory(join(base, 'link'), join(base, 'real/sub')),
    'sub',
    'a symlinked base is resolved',
  );
  t.throws(() => relativeWorkingDirectory(join(base, 'real'), base), {
    message: /outside the base directory/,
    exitCode: 1,
  });
  t.throws(() => relativeWorkingDirectory(base, '/'), /outside the base directory/);
});

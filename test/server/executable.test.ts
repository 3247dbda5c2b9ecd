import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findExecutable } from '../../src/server/executable.js';

t.test('executables are found as SPEC A4 says', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-exe-'));
  t.teardown(() => rmSync(dir, { recursive: true }));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'local'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'data'), 'x', { mode: 0o644 });
  mkdirSync(join(dir, 'sh'));

  t.same(
    findExecutable('local', dir, '/nonexistent'),
    { path: join(dir, 'local') },
    'relative to the working directory first',
  );
  t.same(
    findExecutable('tool', dir, `/nonexistent:${join(dir, 'bin')}`),
    { path: join(dir, 'bin', 'tool') },
    'then the PATH',
  );
  t.same(findExecutable('tool', dir, 'bin'), { path: join(dir, 'bin', 'tool') }, 'a relative PATH entry');
  t.same(
    findExecutable('sh', dir),
    { path: '/bin/sh' },
    'a directory of that name is skipped; default PATH /bin:/usr/bin',
  );
  t.same(findExecutable('./bin/tool', dir), { path: join(dir, 'bin', 'tool') });
  t.same(findExecutable('missing', dir), { error: 'missing: command not found', code: 127 });
  t.same(findExecutable('./data', dir), { error: './data: Permission denied', code: 126 });
  t.same(findExecutable('', dir), { error: 'empty executable name', code: 127 });
});

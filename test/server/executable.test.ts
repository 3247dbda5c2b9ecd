import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findExecutable } from '../../src/server/executable.js';
import { descriptorPath } from '../../src/server/workdir.js';

t.test('executables are found as a shell finds them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-exe-'));
  // The working directory is reached through its descriptor, as the server opens it.
  const fd = openSync(dir, 'r');
  const wd = descriptorPath(fd);
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  });
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'cat'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'data'), 'x', { mode: 0o644 });
  mkdirSync(join(dir, 'sh'));

  t.same(
    findExecutable('cat', wd),
    { path: '/bin/cat' },
    'a bare name: PATH only, never a program planted in the working directory',
  );
  t.same(
    findExecutable('cat', wd, '/nonexistent'),
    { error: 'cat: command not found', code: 127 },
    'not on PATH: not found, though the working directory has one',
  );
  t.same(findExecutable('tool', wd, `/nonexistent:${join(dir, 'bin')}`), { path: join(dir, 'bin', 'tool') });
  t.same(
    findExecutable('tool', wd, 'bin'),
    { path: 'bin/tool' },
    'a relative PATH entry: relative to the directory',
  );
  t.same(
    findExecutable('cat', wd, ':/bin'),
    { path: './cat' },
    'an empty PATH entry is the working directory',
  );
  t.same(
    findExecutable('sh', wd),
    { path: '/bin/sh' },
    'a directory of that name is skipped; default PATH /bin:/usr/bin',
  );
  t.same(
    findExecutable('./bin/tool', wd),
    { path: './bin/tool' },
    'a relative path: in the working directory',
  );
  t.same(findExecutable('bin/tool', wd), { path: './bin/tool' }, 'any name with a /');
  t.same(findExecutable('./cat', wd), { path: './cat' }, './name keeps its meaning');
  t.same(findExecutable('/bin/true', wd, '/nonexistent'), { path: '/bin/true' }, 'an absolute path');
  t.same(findExecutable('missing', wd), { error: 'missing: command not found', code: 127 });
  t.same(findExecutable('./data', wd), { error: './data: Permission denied', code: 126 });
  t.same(findExecutable('', wd), { error: 'empty executable name', code: 127 });
});

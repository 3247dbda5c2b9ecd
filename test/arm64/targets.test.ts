/**
 * The build's architecture choice (scripts/targets.mjs, issue 16): the option and variable, their
 * errors, and the table agreeing with the front's C header. Runs everywhere (no qemu needed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../e2e/harness.js';
import { HOST_ARCH, isCross, lddCommand, nodeCommand, targetArch, TARGETS } from '../../scripts/targets.mjs';

t.test('--arch, then $K8PSH_ARCH, then amd64; aliases; anything else refused', async (t) => {
  const saved = process.env.K8PSH_ARCH;
  t.teardown(() => {
    if (saved === undefined) delete process.env.K8PSH_ARCH;
    else process.env.K8PSH_ARCH = saved;
  });
  delete process.env.K8PSH_ARCH;
  t.equal(targetArch(), 'amd64');
  t.equal(HOST_ARCH, 'amd64');
  process.env.K8PSH_ARCH = 'aarch64';
  t.equal(targetArch(), 'arm64', 'the variable, aarch64 meaning arm64');
  t.equal(targetArch('x86_64'), 'amd64', 'the option wins');
  t.throws(() => targetArch('s390x'), /unknown architecture s390x \(one of amd64, arm64\)/);
  t.notOk(isCross('amd64'));
  t.ok(isCross('arm64'));
  t.same(nodeCommand('amd64', '/n'), ['/n'], 'the x64 Node runs itself');
  t.same(
    nodeCommand('arm64', '/n'),
    [
      'qemu-aarch64-static',
      '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1',
      '--library-path',
      '/usr/aarch64-linux-gnu/lib',
      '/n',
    ],
    'the arm64 Node under qemu-user, through the sysroot loader',
  );
  t.same(lddCommand('amd64', '/f'), ['ldd', '/f']);
  t.same(lddCommand('arm64', '/f').slice(-2), ['--list', '/f']);
});

t.test('the bundled loader names agree with native/front/runtime.h', async (t) => {
  const header = readFileSync(join(ROOT, 'native/front/runtime.h'), 'utf8');
  const byMacro: Record<string, string> = {};
  for (const m of header.matchAll(/defined\((__\w+__)\)\s*\n#define RUNTIME_LOADER "([^"]+)"/g))
    byMacro[m[1]!] = m[2]!;
  t.same(byMacro, { __x86_64__: TARGETS.amd64.loader, __aarch64__: TARGETS.arm64.loader });
});

t.test('a wrong architecture is one line and exit 2, before any work', async (t) => {
  const build = join(ROOT, 'scripts/build.mjs');
  for (const [args, env, name] of [
    [['--arch', 'bogus'], {}, 'bogus'],
    [['--bundle-only'], { K8PSH_ARCH: 'sparc' }, 'sparc'],
  ] as const) {
    const r = spawnSync(process.execPath, [build, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    t.equal(r.status, 2, `${name}: exit 2`);
    t.match(r.stderr, new RegExp(`^build: unknown architecture ${name} \\(one of amd64, arm64\\)\\nusage: `));
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

/**
 * Our image, built by podman from the repository's Dockerfile (issue 23, item 1): the `deploy`
 * target users get, its `bin` stage given as a build context made by the Dockerfile's own layout
 * step from this checkout's dist/ (the build stage's base image cannot be pulled here; docs/pod-test.md,
 * "Real Pods"). Then what it holds, read from the image's own root (`podman image mount`): /bin/k8psh
 * (the front), /bin/k8pshd -> k8psh (two names, one executable file), the runtime directory beside
 * them as `--install` lays it out, nothing else with content; USER 65532; `podman run --rm IMAGE`
 * prints the version, also on a read-only root; and its size.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { ROOT, SKIP_UNBUILT } from '../e2e/harness.js';
import { buildK8pshImage } from './base-images.js';
import { podman, podmanUnusable } from './podman.js';

const skip = SKIP_UNBUILT || podmanUnusable();

t.test('.ci/run installs podman and runc and what the base images are made of', async (t) => {
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
  const install = /^apt-get install (?:[^\n]*\\\n)*[^\n]*$/m.exec(ci)?.[0] ?? '';
  for (const pkg of [
    'podman',
    'runc',
    'busybox-static',
    'musl',
    'musl-tools',
    'gcc',
    'make',
    'binutils',
    'libc6-dev',
  ])
    t.match(install, new RegExp(`\\s${pkg}(\\s|$)`), pkg);
});

/** Every path under a root: type, size, mode (octal), link target. */
function walk(root: string): { path: string; type: string; size: number; mode: number; link?: string }[] {
  const found: { path: string; type: string; size: number; mode: number; link?: string }[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const file = join(dir, name);
      const stat = lstatSync(file);
      const type = stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : stat.isFile() ? 'f' : 'other';
      found.push({
        path: `/${relative(root, file)}`,
        type,
        size: stat.size,
        mode: stat.mode & 0o7777,
        ...(type === 'l' ? { link: readlinkSync(file) } : {}),
      });
      if (type === 'd') visit(file);
    }
  };
  visit(root);
  return found;
}

t.test('our image, built with podman from the Dockerfile', { skip, timeout: 300000 }, async (t) => {
  const image = await buildK8pshImage();
  t.comment(image.built ? `built ${image.tag} in ${image.ms} ms` : `${image.tag} was built already`);
  if (image.built) {
    t.notMatch(image.buildLog, /node:20|npm ci/, 'the build stage was skipped (its base is never pulled)', {
      log: image.buildLog,
    });
    t.match(image.buildLog, /COPY --from=bin \/ \/bin\//, 'the runtime stage copied the bin stage');
  }

  const inspected = await podman(['image', 'inspect', '--format', 'json', image.tag]);
  const [config] = JSON.parse(inspected.out) as {
    Size: number;
    Config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[] };
  }[];
  t.equal(config?.Config.User, '65532:65532', 'USER 65532: not root');
  t.same(config?.Config.Entrypoint, ['/bin/k8psh'], 'ENTRYPOINT /bin/k8psh');
  t.same(config?.Config.Cmd, ['--version'], 'CMD --version');
  t.notOk(
    (config?.Config.Env ?? []).some((e) => e.startsWith('K8PSH_DEBUG=')),
    'the deploy target, not debug',
  );
  const size = config?.Size ?? 0;
  t.comment(`image size: ${size} bytes (${(size / 2 ** 20).toFixed(1)} MiB)`);

  const mounted = await podman(['image', 'mount', image.tag]);
  t.teardown(() => podman(['image', 'unmount', image.tag], { check: false }));
  const root = mounted.out.trim();
  const entries = walk(root);
  const runtime = readdirSync(join(ROOT, 'dist')).find((name) => name.startsWith('.k8psh-runtime-'));
  t.ok(runtime, "dist/ has a runtime directory (the image's must carry the same)");
  const bin = entries.filter((e) => e.path.startsWith('/bin/') && !e.path.startsWith(`/bin/${runtime}/`));
  t.same(
    bin.map((e) => `${e.path} ${e.type} ${e.mode.toString(8)}${e.link ? ` -> ${e.link}` : ''}`),
    [`/bin/${runtime} d 755`, '/bin/k8psh f 755', '/bin/k8pshd l 777 -> k8psh'],
    '/bin: k8psh, the k8pshd symlink to it, and the runtime directory beside them',
  );
  t.equal(
    realpathSync(join(root, 'bin/k8pshd')),
    realpathSync(join(root, 'bin/k8psh')),
    'two names, one executable file',
  );
  const front = statSync(join(root, 'bin/k8psh')).size;
  t.ok(front < 2 ** 20, `/bin/k8psh is the front alone (${front} bytes): its runtime is beside it`);
  const shipped = readdirSync(join(ROOT, 'dist', runtime ?? ''))
    .sort()
    .map((name) => `${name} ${statSync(join(ROOT, 'dist', runtime ?? '', name)).size}`);
  t.same(
    entries
      .filter((e) => e.path.startsWith(`/bin/${runtime}/`))
      .map((e) => `${e.path.slice(`/bin/${runtime}/`.length)} ${e.size}`),
    shipped,
    "the runtime directory holds dist/'s runtime files, the same sizes",
  );
  const others = entries.filter((e) => e.path !== '/bin' && !e.path.startsWith('/bin/'));
  t.same(
    others.filter((e) => e.type !== 'd' && !(e.type === 'f' && e.size === 0)),
    [],
    'outside /bin nothing but the empty mount points a RUN leaves (/dev, /proc, /etc/hosts...)',
    { others: others.map((e) => `${e.path} ${e.type} ${e.size}`) },
  );
  const total = entries.filter((e) => e.type === 'f').reduce((sum, e) => sum + e.size, 0);
  t.comment(`files in the image: ${total} bytes (${(total / 2 ** 20).toFixed(1)} MiB)`);
  t.ok(size >= total && size < total + 2 ** 20, 'the image is its files (no second copy of the runtime)', {
    size,
    total,
  });

  const version = spawnSync(join(ROOT, 'dist/k8psh'), ['--version'], { encoding: 'utf8', timeout: 30000 });
  const run = await podman(['run', '--rm', '--network', 'none', image.tag]);
  t.equal(run.out, version.stdout, '`podman run --rm IMAGE` prints the version, as dist/k8psh does');
  t.match(run.out, /^k8psh \S+.* node v24\.\d+\.\d+\n$/, 'with the embedded Node 24');
  const readOnly = await podman(['run', '--rm', '--network', 'none', '--read-only', image.tag]);
  t.equal(readOnly.out, version.stdout, 'also on a read-only root, as user 65532 (nothing to unpack)');
  const shell = await podman(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', image.tag], {
    check: false,
  });
  t.not(shell.code, 0, 'no shell in the image', { out: shell.out, err: shell.err });
});

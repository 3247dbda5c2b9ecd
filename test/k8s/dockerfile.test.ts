/**
 * The Dockerfile, checked without a container engine (none is available where these tests run):
 * linted by dockerfile-utils (the Docker language server's validator), parsed, and held to what the
 * image must be: built by the same npm steps as CI, a final stage FROM scratch with only the executable
 * laid out as `--install` lays it (the front, its runtime directory beside it) and its k8pshd link (no
 * libc: the executable is static), a `bin` stage that a build context can replace, a `debug` target
 * with K8PSH_DEBUG=all. The step that lays out the final image's /bin is run for real on a scratch
 * directory; test/podman/images.test.ts builds the image itself with podman.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { validate } from 'dockerfile-utils';
import { interpreterOf, programHeaders } from '../pod/elf.js';
import { all, dockerfile, execForm, layoutStep, runLayoutStep, stage, stages } from './dockerfile.js';
import { ROOT } from './manifests.js';

/** A diagnostic's text (the language server types allow markup). */
function text(message: string | { value: string }): string {
  return typeof message === 'string' ? message : message.value;
}

const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

t.test('dockerfile-utils finds no problem', async (t) => {
  t.same(
    validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${text(d.message)}`),
    [],
  );
  // ...and it does find them: a corrupted copy.
  const broken = dockerfile
    .replace('COPY --from=build', 'COPY --frm=build')
    .replace('ENTRYPOINT', 'ENTRYPONT');
  t.same(
    validate(broken)
      .map((d) => text(d.message))
      .sort(),
    ['Unknown flag: frm', 'Unknown instruction: ENTRYPONT'],
  );
});

t.test('stages: build, bin, runtime, and the debug and deploy targets', async (t) => {
  t.same(
    stages(all).map((s) => s.name),
    ['build', 'bin', 'runtime', 'debug', 'deploy'],
  );
  t.equal(stages(all).at(-1)?.name, 'deploy', 'the release image is the default target (the last stage)');
  t.equal(stage('deploy').image, 'runtime');
  t.same(stage('deploy').instructions, [], 'deploy is the runtime stage as is');
  t.equal(stage('debug').image, 'runtime', 'debug is the release image...');
  t.same(
    stage('debug').instructions.map((i) => `${i.keyword} ${i.rest}`),
    ['ENV K8PSH_DEBUG=all'],
    '...with K8PSH_DEBUG=all and nothing else',
  );
});

t.test('the build stage runs the npm steps CI runs', async (t) => {
  const build = stage('build');
  t.match(build.image, /^node:20\.20(\.\d+)?-bookworm-slim$/, 'Node 20.20 on Debian bookworm (glibc)');
  const steps = build.instructions.map((i) => `${i.keyword} ${i.rest}`);
  const at = (step: string): number => steps.indexOf(step);

  const aptInstall = steps.find((s) => s.startsWith('RUN ') && s.includes('apt-get install'));
  for (const tool of ['python3', 'make', 'g++']) {
    t.match(
      aptInstall ?? '',
      new RegExp(`\\s${tool.replace(/\+/g, '\\+')}(\\s|$)`),
      `node-gyp needs ${tool}`,
    );
  }
  t.match(aptInstall ?? '', /\smusl-tools(\s|$)/, 'musl-gcc links the static front executable');

  t.ok(
    at('COPY package.json package-lock.json ./') >= 0,
    'the manifests are copied first (a cached npm ci layer)',
  );
  t.ok(at('COPY package.json package-lock.json ./') < at('RUN npm ci'), 'then npm ci');
  t.match(packageJson.scripts.install ?? '', /build:native/, 'whose install script builds native/syscalls');
  t.ok(
    at('COPY native/ native/') >= 0 && at('COPY native/ native/') < at('RUN npm ci'),
    'copied before npm ci',
  );
  t.ok(at('RUN npm ci') < at('COPY . .'), 'then the sources');
  const buildStep = steps.findIndex((s) => s.startsWith('RUN npm run build'));
  t.ok(at('COPY . .') < buildStep, 'then npm run build');

  // The same commands as CI: .ci/run installs with `npm ci`; `npm test` (CI) builds with `npm run build`.
  const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
  t.match(ci, /^npm ci$/m, '.ci/run installs with npm ci');
  t.match(packageJson.scripts.test ?? '', /npm run build/, 'and its npm test runs npm run build');
  const runs = all.filter((i) => i.keyword === 'RUN').map((i) => i.rest);
  const npmRuns = runs.flatMap((r) => [...r.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1] ?? ''));
  t.same(npmRuns, ['build']);
  for (const script of npmRuns) t.ok(packageJson.scripts[script], `package.json has the script ${script}`);
  t.ok(existsSync(path.join(ROOT, 'package-lock.json')), 'npm ci has a lockfile');
});

t.test('multi-platform: the build stage on $BUILDPLATFORM cross-compiles for $TARGETARCH', async (t) => {
  const build = stage('build');
  t.equal(build.platform, '$BUILDPLATFORM', 'FROM --platform=$BUILDPLATFORM: never emulated');
  t.equal(stage('runtime').platform, undefined, 'the final stage is the target platform');
  const args = build.instructions.filter((i) => i.keyword === 'ARG').map((i) => i.rest);
  t.same(args, ['TARGETARCH'], 'TARGETARCH brought into the build stage (buildx sets it)');
  const step = build.instructions.find((i) => i.keyword === 'RUN' && i.rest.startsWith('npm run build'));
  t.equal(
    step?.rest,
    'npm run build -- --arch "${TARGETARCH:-amd64}" --out dist',
    'dist/k8psh built for the target (amd64 when a plain docker build sets no TARGETARCH)',
  );
  const arg = build.instructions.findIndex((i) => i.keyword === 'ARG');
  t.ok(arg >= 0 && arg < build.instructions.indexOf(step!), 'declared before it');
  // Every platform the header's buildx command names is a target of scripts/targets.mjs.
  const platforms = /--platform (\S+)/.exec(dockerfile)?.[1]?.split(',') ?? [];
  t.same(platforms, ['linux/amd64', 'linux/arm64'], 'the buildx command in the header');
  const { TARGETS } = await import('../../scripts/targets.mjs');
  for (const platform of platforms)
    t.ok(Object.hasOwn(TARGETS, platform.replace('linux/', '')), `${platform} is a build target`);
  // The cross toolchain and qemu-user: the same packages as CI's.
  const apt = build.instructions.find((i) => i.keyword === 'RUN' && i.rest.includes('apt-get install'))?.rest;
  const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
  for (const pkg of [
    'qemu-user-static',
    'gcc-aarch64-linux-gnu',
    'g++-aarch64-linux-gnu',
    'libc6-dev-arm64-cross',
    'libc6-arm64-cross',
    'libstdc++6-arm64-cross',
    'libgcc-s1-arm64-cross',
  ]) {
    const word = new RegExp(`\\s${pkg.replace(/\+/g, '\\+')}(\\s|$)`);
    t.match(apt ?? '', word, `the build stage installs ${pkg}`);
    t.match(ci, word, `and so does .ci/run`);
  }
});

t.test(
  "bin: the image's /bin, which a build context named bin replaces (a dist/ built already)",
  async (t) => {
    const bin = stage('bin');
    t.equal(bin.image, 'scratch');
    t.same(
      bin.instructions.map((i) => `${i.keyword} ${i.rest}`),
      ['COPY --from=build /out/bin/ /'],
      "the build stage's /out/bin and nothing else: a directory laid out the same way can stand for it",
    );
    t.match(
      dockerfile,
      /^# +podman build --build-context bin=out\/bin --target deploy /m,
      'the header says how (test/podman/images.test.ts builds the image so)',
    );
  },
);

t.test(
  'the final image: FROM scratch, the executable, its runtime and its k8pshd link, not root',
  async (t) => {
    const runtime = stage('runtime');
    t.equal(runtime.image, 'scratch', 'no base image: no libc, no shell (the original is FROM scratch too)');
    t.same(
      runtime.instructions.map((i) => i.keyword),
      ['COPY', 'USER', 'RUN', 'ENTRYPOINT', 'CMD'],
    );
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    t.same(
      copies.map((i) => i.rest),
      ['--from=bin / /bin/'],
      'one COPY: the bin stage, a directory (its symlink stays a symlink)',
    );
    t.equal(runtime.instructions.find((i) => i.keyword === 'USER')?.rest, '65532:65532', 'a numeric user');
    const run = runtime.instructions.find((i) => i.keyword === 'RUN');
    t.same(
      execForm(run?.rest ?? ''),
      ['/bin/k8psh', '--version'],
      'smoke test in exec form (no shell in the image)',
    );
    t.same(execForm(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')?.rest ?? ''), [
      '/bin/k8psh',
    ]);
    t.same(execForm(runtime.instructions.find((i) => i.keyword === 'CMD')?.rest ?? ''), ['--version']);
  },
);

t.test(
  'the /out/bin layout step, run on a scratch directory, lays out k8psh as --install does, and k8pshd -> k8psh',
  { skip: !existsSync(path.join(ROOT, 'dist/k8psh')) && 'dist/k8psh is missing: run npm run build' },
  async (t) => {
    const step = layoutStep();
    t.ok(step, 'the build stage lays out /out/bin');
    if (step === undefined) return;
    t.ok(
      stage('build').instructions.indexOf(step) >
        stage('build').instructions.findIndex((i) => i.rest.startsWith('npm run build')),
      'after the build',
    );

    const scratch = mkdtempSync(path.join(tmpdir(), 'k8psh-dockerfile-'));
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
    const out = path.join(scratch, 'out');
    const result = runLayoutStep(out);
    t.notMatch(result.command, /(^|[\s=])\/out\b/, 'every /out path was redirected to the scratch directory');
    t.equal(result.status, 0, `the step succeeds: ${result.stderr}`);
    t.match(result.stdout, /^k8psh .*\nk8pshd .*\n$/, 'and runs both names');

    const bin = path.join(out, 'bin');
    const runtime = readdirSync(path.join(ROOT, 'dist')).find((name) => name.startsWith('.k8psh-runtime-'));
    t.ok(runtime, 'dist/ has its runtime directory');
    t.same(readdirSync(bin).sort(), [runtime, 'k8psh', 'k8pshd'], 'nothing else goes to /bin');
    const binary = lstatSync(path.join(bin, 'k8psh'));
    t.ok(binary.isFile(), 'k8psh is a regular file');
    t.equal(binary.mode & 0o777, 0o755, 'mode 0755');
    t.ok(
      binary.size < statSync(path.join(ROOT, 'dist/k8psh')).size / 100,
      `the front alone (${binary.size} bytes): the runtime is beside it, not in it`,
    );
    t.ok(lstatSync(path.join(bin, 'k8pshd')).isSymbolicLink(), 'k8pshd is a symlink...');
    t.equal(readlinkSync(path.join(bin, 'k8pshd')), 'k8psh', '...relative, to k8psh beside it');
    const dir = path.join(bin, runtime ?? '');
    t.ok(lstatSync(dir).isDirectory(), 'the runtime directory is a directory');
    t.equal(lstatSync(dir).mode & 0o777, 0o755, 'mode 0755: any user runs from it');
    t.same(
      readdirSync(dir).sort(),
      readdirSync(path.join(ROOT, 'dist', runtime ?? '')).sort(),
      "the same files as dist/'s runtime directory",
    );
  },
);

t.test('.dockerignore keeps local builds and installs out, and the sources in', async (t) => {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const excluded of ['node_modules', 'dist', '.git', '.tap']) {
    t.ok(patterns.includes(excluded), `${excluded} is excluded`);
  }
  for (const needed of ['package.json', 'package-lock.json', 'src', 'scripts', 'tsconfig.json']) {
    t.notOk(
      patterns.some((p) => p === needed || p === `${needed}/` || p === '*' || p === '**'),
      `${needed} is sent`,
    );
  }
});

t.test(
  'scratch provides nothing, and dist/k8psh asks for nothing: no program interpreter (static)',
  { skip: !existsSync(path.join(ROOT, 'dist/k8psh')) && 'dist/k8psh is missing: run npm run build' },
  async (t) => {
    t.match(interpreterOf(process.execPath), /\/ld-linux/, 'the check sees the loader of a dynamic node');
    t.ok(programHeaders(path.join(ROOT, 'dist/k8psh')).length > 0, 'dist/k8psh has program headers');
    t.equal(
      interpreterOf(path.join(ROOT, 'dist/k8psh')),
      undefined,
      'dist/k8psh names no loader (PT_INTERP): the kernel runs it as is',
    );
    const ldd = spawnSync('ldd', [path.join(ROOT, 'dist/k8psh')], { encoding: 'utf8' });
    if (!ldd.error)
      t.match(ldd.stdout + ldd.stderr, /not a dynamic executable|statically linked/, 'ldd agrees');
  },
);

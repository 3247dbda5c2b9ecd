/**
 * The linux/arm64 executable (issue 16; docs/build.md, "arm64"), run on this amd64 machine through
 * qemu-user registered with binfmt_misc: `npm run build -- --arch arm64` makes it in dist/arm64/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../e2e/harness.js';

export const ARM64_DIST = join(ROOT, 'dist/arm64');
export const ARM64_BIN = join(ARM64_DIST, 'k8psh');
export const ARM64_DAEMON = join(ARM64_DIST, 'k8pshd');
/** ELF e_machine of AArch64. */
const EM_AARCH64 = 183;
const BINFMT = '/proc/sys/fs/binfmt_misc';
/** The start of the ELF header binfmt_misc matches for an aarch64 executable (Debian's qemu-aarch64). */
const AARCH64_MAGIC = '7f454c460201010000000000000000000200b700';

/** The ELF machine of a file (e_machine, little-endian at offset 18). */
export function elfMachine(file: string): number {
  return readFileSync(file).subarray(0, 20).readUInt16LE(18);
}

export function isAarch64(file: string): boolean {
  return elfMachine(file) === EM_AARCH64;
}

/**
 * An enabled binfmt_misc entry for aarch64 with the flags F (the interpreter opened at registration,
 * so it also runs arm64 programs inside a chroot that has no qemu) and O (the kernel hands it the
 * open program: the front's fexecve of a close-on-exec memory file, which qemu 7.2 turns into an
 * execve of /proc/self/fd/N, works), or why there is none.
 */
function binfmtMissing(): string | false {
  const how = `register qemu-aarch64 as root as .ci/run does: mount -t binfmt_misc binfmt_misc ${BINFMT}; cat /usr/lib/binfmt.d/qemu-aarch64.conf >${BINFMT}/register (qemu-user-static)`;
  let names: string[];
  try {
    names = readdirSync(BINFMT).filter((n) => n !== 'register' && n !== 'status');
  } catch {
    return `binfmt_misc is not mounted: ${how}`;
  }
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(join(BINFMT, name), 'utf8');
    } catch {
      continue;
    }
    if (!text.startsWith('enabled') || !text.includes(`magic ${AARCH64_MAGIC}`)) continue;
    const flags = /^flags: (\S*)/m.exec(text)?.[1] ?? '';
    if (!flags.includes('F') || !flags.includes('O'))
      return `binfmt_misc entry ${name} has flags ${flags}, not O and F: ${how}`;
    return false;
  }
  return `no aarch64 interpreter in binfmt_misc: ${how}`;
}

/** Why the arm64 tests cannot run here (a plain message for tap's skip), or false. */
export function arm64Unavailable(): string | false {
  if (!existsSync(ARM64_BIN)) return 'dist/arm64/k8psh is missing: run npm run build -- --arch arm64';
  return binfmtMissing();
}

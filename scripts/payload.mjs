/**
 * The one-file k8psh (docs/build.md, "The front executable"): the static front executable
 * (native/front) followed by the runtime files, their table and a trailer, the layout of
 * native/front/payload.h. Used by scripts/build.mjs.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAGIC = 'K8PSHRT1';
const ID_SIZE = 24;
const NAME_SIZE = 48;
const ENTRY_SIZE = 72;
const TRAILER_SIZE = 48;
export const RUNTIME_PREFIX = '.k8psh-runtime-';
const FRONT_FLAGS = ['-static', '-Wall', '-Wextra', '-Werror', '-O2', '-s'];

/**
 * Compiles native/front statically with the first of compilers that works (scripts/targets.mjs:
 * musl-gcc from Debian's musl-tools, else $CC or gcc with static glibc; a cross gcc with static glibc
 * for another architecture). Either runs with no libc in the image.
 */
export function compileFront(
  root,
  output,
  compilers = process.env.CC ? [process.env.CC] : ['musl-gcc', 'gcc'],
) {
  const dir = path.join(root, 'native/front');
  const sources = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => path.join(dir, f));
  const failures = [];
  for (const compiler of compilers) {
    const result = spawnSync(compiler, [...FRONT_FLAGS, '-o', output, ...sources], { encoding: 'utf8' });
    if (result.status === 0) return compiler;
    failures.push(`${compiler}: ${result.error?.message ?? result.stderr.trim()}`);
  }
  throw new Error(`cannot compile native/front:\n${failures.join('\n')}`);
}

/**
 * The shared objects the given ELF files need, glibc loader included, as `ldd` of this (glibc)
 * build machine resolves them, or listed by lddCommand (file) => [command, ...args] (another
 * architecture's loader): [{ name: 'libc.so.6', file: '/lib/x86_64-linux-gnu/libc.so.6' }].
 */
export function sharedLibraries(files, lddCommand = (file) => ['ldd', file]) {
  const found = new Map();
  for (const file of files) {
    const [command, ...args] = lddCommand(file);
    const result = spawnSync(command, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ldd ${file} failed: ${result.error?.message ?? result.stderr}`);
    for (const line of result.stdout.split('\n')) {
      const linked = /^\s*(\S+) => (\/\S+) \(/.exec(line);
      const loader = /^\s*(\/\S*\/(ld-linux[^/\s]*)) \(/.exec(line);
      // A foreign loader lists itself as `/lib/ld-linux-aarch64.so.1 => /usr/aarch64-linux-gnu/lib/…`.
      if (linked) found.set(path.basename(linked[1]), linked[2]);
      else if (loader) found.set(loader[2], loader[1]);
      else if (/=> not found/.test(line)) throw new Error(`ldd ${file}: ${line.trim()}`);
    }
  }
  return [...found].map(([name, file]) => ({ name, file: fs.realpathSync(file) }));
}

/** The build id: the first 16 hex digits of a sha256 over the entries' names, modes and bytes. */
function buildId(entries) {
  const hash = createHash('sha256');
  for (const { name, file, mode } of entries) {
    hash.update(`${name}\0${mode}\0`);
    hash.update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Writes output = front + entries + table + trailer (atomically: a temporary name, then rename);
 * entries are [{ name, file, mode }]. Returns the build id.
 */
export function assemble(front, entries, output) {
  const id = buildId(entries);
  const temporary = `${output}.${process.pid}.tmp`;
  const out = fs.openSync(temporary, 'w', 0o755);
  try {
    const frontBytes = fs.readFileSync(front);
    fs.writeSync(out, frontBytes);
    let offset = frontBytes.length;
    const table = Buffer.alloc(entries.length * ENTRY_SIZE);
    entries.forEach(({ name, file, mode }, i) => {
      if (Buffer.byteLength(name) >= NAME_SIZE || name.includes('/'))
        throw new Error(`bad entry name ${name}`);
      const bytes = fs.readFileSync(file);
      fs.writeSync(out, bytes);
      const at = i * ENTRY_SIZE;
      table.write(name, at, 'utf8');
      table.writeBigUInt64LE(BigInt(offset), at + NAME_SIZE);
      table.writeBigUInt64LE(BigInt(bytes.length), at + NAME_SIZE + 8);
      table.writeUInt32LE(mode, at + NAME_SIZE + 16);
      offset += bytes.length;
    });
    const trailer = Buffer.alloc(TRAILER_SIZE);
    trailer.write(MAGIC, 0, 'latin1');
    trailer.write(id, MAGIC.length, 'latin1');
    trailer.writeBigUInt64LE(BigInt(offset), MAGIC.length + ID_SIZE);
    trailer.writeUInt32LE(entries.length, MAGIC.length + ID_SIZE + 8);
    trailer.writeUInt32LE(frontBytes.length, MAGIC.length + ID_SIZE + 12);
    fs.writeSync(out, table);
    fs.writeSync(out, trailer);
    fs.fchmodSync(out, 0o755);
  } catch (error) {
    fs.closeSync(out);
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  fs.closeSync(out);
  fs.renameSync(temporary, output);
  return id;
}

/**
 * The runtime directory beside output (what `--install` makes beside an installed copy), so that
 * output runs from where it is built without unpacking; runtime directories of other builds there
 * are removed. Files are hard links to the staged ones when possible.
 */
export function runtimeBeside(output, id, entries) {
  const dir = path.dirname(output);
  const target = path.join(dir, `${RUNTIME_PREFIX}${id}`);
  for (const name of fs.readdirSync(dir))
    if (name.startsWith(RUNTIME_PREFIX) && path.join(dir, name) !== target)
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  if (fs.existsSync(target)) return target;
  const temporary = `${target}.${process.pid}.tmp`;
  fs.rmSync(temporary, { recursive: true, force: true });
  fs.mkdirSync(temporary, { mode: 0o755 });
  for (const { name, file, mode } of entries) {
    const copy = path.join(temporary, name);
    try {
      fs.linkSync(file, copy);
    } catch {
      fs.copyFileSync(file, copy);
    }
    fs.chmodSync(copy, mode);
  }
  fs.renameSync(temporary, target);
  return target;
}

/** Total bytes of the entries: what `--install` writes besides the front. */
export function entriesSize(entries) {
  return entries.reduce((sum, { file }) => sum + fs.statSync(file).size, 0);
}

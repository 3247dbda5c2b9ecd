/**
 * A compiled stub table written from docs/native-stubs.md ("The compiled table", format version 1),
 * independently of the TypeScript writer in src/: the native stub's tests make their own tables,
 * valid ones and damaged ones. Plain JavaScript, with types in stub-table.d.mts.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OFFSET = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

/** FNV-1a 64 of bytes (a string is taken as UTF-8), as a bigint. */
export function fnv1a64(data) {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let hash = OFFSET;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * PRIME) & MASK;
  return hash;
}

/** The table's file name for a build id and a key: native-<id>-<16 hex digits>. */
export function tableName(buildId, key) {
  return `native-${buildId}-${fnv1a64(key).toString(16).padStart(16, '0')}`;
}

/** The build id in the 48-byte trailer at the end of a front executable. */
export function buildIdOf(frontBytes) {
  const trailer = frontBytes.subarray(-48);
  return trailer.subarray(8, 32).toString('latin1').replace(/\0+$/, '');
}

const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const str = (s) => {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(bytes.length), bytes]);
};
const opt = (s) => (s === undefined ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), str(s)]));

/**
 * The body: { buildId, key, configVariable, config (string or Buffer), variables: [[name, value or
 * undefined]], baseDirectory, connectTimeoutMs, commands: [{ name, host, port, names }] }.
 */
export function encodeBody(table) {
  const timeout = Buffer.alloc(8);
  timeout.writeBigInt64LE(BigInt(table.connectTimeoutMs ?? 30000));
  return Buffer.concat([
    str(table.buildId),
    str(table.key),
    opt(table.configVariable),
    str(table.config),
    u32(table.variables.length),
    ...table.variables.flatMap(([name, value]) => [str(name), opt(value)]),
    str(table.baseDirectory),
    timeout,
    u32(table.commands.length),
    ...table.commands.flatMap((c) => [
      str(c.name),
      str(c.host),
      u32(c.port),
      u32(c.names.length),
      ...c.names.map(str),
    ]),
  ]);
}

/** Header + body; `body` may be given raw (to damage it), `header` fields overridden. */
export function encodeTable(table, { body = encodeBody(table), length, reserved = 0, checksum } = {}) {
  const header = Buffer.alloc(24);
  header.write('K8PSHNS1', 0, 'latin1');
  header.writeUInt32LE(length ?? body.length, 8);
  header.writeUInt32LE(reserved, 12);
  header.writeBigUInt64LE(checksum ?? fnv1a64(body), 16);
  return Buffer.concat([header, body]);
}

/** Writes bytes as the table for (buildId, key) in dir (made 0700), atomically; returns its path. */
export function writeTable(dir, buildId, key, bytes, mode = 0o600) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, tableName(buildId, key));
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes, { mode });
  renameSync(temporary, file);
  return file;
}

/**
 * The native stubs' compiled table, version 2, written and read as docs/native-stubs.md ("Format",
 * "Valid when") lays it out. Written from the document, not from src/client/stub-table.ts, so that
 * neither the TypeScript writer nor the C reader is ever checked against itself: the decoder checks
 * what the writer made, the encoder makes valid and damaged tables for the native stub's tests.
 * FNV-1a 64 in BigInt arithmetic here (on 32-bit halves in src, in C in native/front/fnv.h).
 * Plain JavaScript (typed by stub-table.d.mts), like frames.mjs.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MAGIC = 'K8PSHNS2';
export const NO_UID = 0xffffffff;
export const HEADER_SIZE = 24;
export const MAX_BODY = 4 * 1024 * 1024;
export const MAX_CONTENT = 1024 * 1024;

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64 of the bytes (a string: its UTF-8 bytes), as a BigInt. */
export function fnv1a64(data) {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & MASK64;
  return hash;
}

/** `native-<build id>-<16 hex digits of FNV-1a 64 of the key>` */
export function tableFileName(buildId, key) {
  return `native-${buildId}-${fnv1a64(key).toString(16).padStart(16, '0')}`;
}

/**
 * Decodes a whole table file, checking every length, the caps and the checksum; throws an Error
 * saying what is wrong. Strings are UTF-8; the configuration content stays bytes.
 */
export function decodeStubTable(file) {
  if (file.length < HEADER_SIZE) throw new Error('shorter than the header');
  if (file.subarray(0, 8).toString('latin1') !== MAGIC) throw new Error('bad magic');
  const bodyLength = file.readUInt32LE(8);
  if (bodyLength > MAX_BODY) throw new Error('body over 4 MiB');
  if (bodyLength !== file.length - HEADER_SIZE) throw new Error('body length is not the file size - 24');
  if (file.readUInt32LE(12) !== 0) throw new Error('reserved field not 0');
  const body = file.subarray(HEADER_SIZE);
  if (file.readBigUInt64LE(16) !== fnv1a64(body)) throw new Error('checksum mismatch');

  let at = 0;
  const need = (n) => {
    if (at + n > body.length) throw new Error(`truncated at body offset ${at}`);
    const start = at;
    at += n;
    return start;
  };
  const u8 = () => body[need(1)];
  const u32 = () => body.readUInt32LE(need(4));
  const i64 = () => body.readBigInt64LE(need(8));
  const bytes = () => {
    const length = u32();
    return body.subarray(need(length), at);
  };
  const str = () => bytes().toString('utf8');
  const opt = () => {
    const flag = u8();
    if (flag === 0) return undefined;
    if (flag !== 1) throw new Error(`opt flag ${flag}`);
    return str();
  };

  const table = { buildId: str(), key: str(), k8pshConfig: opt() };
  table.content = Buffer.from(bytes());
  if (table.content.length > MAX_CONTENT) throw new Error('content over 1 MiB');
  table.variables = [];
  for (let n = u32(); n > 0; n--) table.variables.push([str(), opt()]);
  table.baseDirectory = str();
  table.connectTimeoutMs = Number(i64());
  table.commands = [];
  for (let n = u32(); n > 0; n--) {
    const command = { name: str(), host: str(), port: u32(), serverUid: u32(), send: [] };
    if (command.serverUid === NO_UID) command.serverUid = undefined;
    for (let m = u32(); m > 0; m--) command.send.push(str());
    table.commands.push(command);
  }
  if (at !== body.length) throw new Error(`${body.length - at} trailing bytes`);
  return table;
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
 * undefined]], baseDirectory, connectTimeoutMs, commands: [{ name, host, port, serverUid?, names }] }.
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
      u32(c.serverUid ?? NO_UID),
      u32(c.names.length),
      ...c.names.map(str),
    ]),
  ]);
}

/** Header + body; `body` may be given raw (to damage it), `header` fields overridden. */
export function encodeTable(table, { body = encodeBody(table), length, reserved = 0, checksum } = {}) {
  const header = Buffer.alloc(HEADER_SIZE);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(length ?? body.length, 8);
  header.writeUInt32LE(reserved, 12);
  header.writeBigUInt64LE(checksum ?? fnv1a64(body), 16);
  return Buffer.concat([header, body]);
}

/** Writes bytes as the table for (buildId, key) in dir (made 0700), atomically; returns its path. */
export function writeTable(dir, buildId, key, bytes, mode = 0o600) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, tableFileName(buildId, key));
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes, { mode });
  renameSync(temporary, file);
  return file;
}

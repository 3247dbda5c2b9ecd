/**
 * The compiled table of a configuration, version 2 (docs/native-stubs.md, "Format"): what the
 * native stub needs, with everything it was computed from. A pure function of its input; the
 * layout is the document's, byte for byte (test/lib/stub-table.mjs reads it from the document).
 */
import type { Config } from '../config/model.js';
import { fnv1a64 } from './fnv1a64.js';

export const MAGIC = 'K8PSHNS2';
/** A command record's server uid when its section names none (--server-uid): (uid_t)-1. */
export const NO_UID = 0xffffffff;
export const HEADER_SIZE = 24;
export const MAX_BODY = 4 * 1024 * 1024;
export const MAX_CONTENT = 1024 * 1024;

export interface StubTableInput {
  /** The running front's payload id. */
  buildId: string;
  /** The configuration path the stub would load, made absolute (docs/native-stubs.md, "Key"). */
  key: string;
  /** K8PSH_CONFIG as the caller had it (undefined: unset). */
  k8pshConfig: string | undefined;
  /** The configuration file's bytes, exactly as parsed. */
  content: Uint8Array;
  /** Every variable the loader read, in first-read order, with its value (undefined: unset). */
  variables: ReadonlyMap<string, string | undefined>;
  config: Config;
}

/** Appends the table's little-endian fields; the chunks are joined once at the end. */
class Writer {
  readonly chunks: Buffer[] = [];
  size = 0;

  bytes(data: Uint8Array): void {
    const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  u8(value: number): void {
    this.bytes(Buffer.of(value));
  }

  u32(value: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(value);
    this.bytes(b);
  }

  i64(value: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64LE(BigInt(value));
    this.bytes(b);
  }

  str(value: string | Uint8Array): void {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.u32(data.length);
    this.bytes(data);
  }

  opt(value: string | undefined): void {
    if (value === undefined) this.u8(0);
    else {
      this.u8(1);
      this.str(value);
    }
  }
}

/** The variable names a command's client sends (src/config/environment.ts clientEnvironment). */
export function namesToSend(config: Config, command: string): string[] {
  const names = new Set<string>();
  for (const spec of config.commands.get(command)?.environment ?? [])
    if (spec.kind !== 'inherited') names.add(spec.name);
  return [...names];
}

/** The table's bytes. Throws a RangeError when the content or the body is over its cap. */
export function encodeStubTable(input: StubTableInput): Buffer {
  const { config } = input;
  if (input.content.length > MAX_CONTENT)
    throw new RangeError(`the configuration is over ${MAX_CONTENT} bytes`);
  const body = new Writer();
  body.str(input.buildId);
  body.str(input.key);
  body.opt(input.k8pshConfig);
  body.str(input.content);
  body.u32(input.variables.size);
  for (const [name, value] of input.variables) {
    body.str(name);
    body.opt(value);
  }
  body.str(config.baseDirectory);
  body.i64(config.connectTimeoutMs);
  body.u32(config.commands.size);
  for (const command of config.commands.values()) {
    const host = config.hosts.get(command.host);
    if (host === undefined) throw new Error(`command ${command.name}: no host ${command.host}`);
    body.str(command.name);
    body.str(host.name);
    body.u32(host.port);
    body.u32(host.serverUid ?? NO_UID);
    const names = namesToSend(config, command.name);
    body.u32(names.length);
    for (const name of names) body.str(name);
  }
  if (body.size > MAX_BODY) throw new RangeError(`the compiled table is over ${MAX_BODY} bytes`);

  const bodyBytes = Buffer.concat(body.chunks, body.size);
  const header = Buffer.alloc(HEADER_SIZE);
  header.write(MAGIC, 0, 'latin1');
  header.writeUInt32LE(bodyBytes.length, 8);
  header.writeUInt32LE(0, 12);
  const { hi, lo } = fnv1a64(bodyBytes);
  header.writeUInt32LE(lo, 16);
  header.writeUInt32LE(hi, 20);
  return Buffer.concat([header, bodyBytes]);
}

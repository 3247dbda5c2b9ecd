/** Types of stub-table.mjs. */
export interface StubTable {
  buildId: string;
  key: string;
  configVariable?: string | undefined;
  config: string | Buffer;
  variables: Array<[string, string | undefined]>;
  baseDirectory: string;
  connectTimeoutMs?: number;
  commands: Array<{ name: string; host: string; port: number; names: string[] }>;
}
export declare function fnv1a64(data: string | Uint8Array): bigint;
export declare function tableName(buildId: string, key: string): string;
export declare function buildIdOf(frontBytes: Buffer): string;
export declare function encodeBody(table: StubTable): Buffer;
export declare function encodeTable(
  table: StubTable,
  overrides?: { body?: Buffer; length?: number; reserved?: number; checksum?: bigint },
): Buffer;
export declare function writeTable(
  dir: string,
  buildId: string,
  key: string,
  bytes: Buffer,
  mode?: number,
): string;

/** Types of stub-table.mjs (plain JavaScript, written from docs/native-stubs.md). */
export declare const MAGIC: 'K8PSHNS2';
export declare const NO_UID: number;
export declare const HEADER_SIZE: 24;
export declare const MAX_BODY: number;
export declare const MAX_CONTENT: number;
export declare function fnv1a64(data: string | Uint8Array): bigint;
export declare function tableFileName(buildId: string, key: string): string;

export interface DecodedCommand {
  name: string;
  host: string;
  port: number;
  serverUid: number | undefined;
  send: string[];
}

export interface DecodedStubTable {
  buildId: string;
  key: string;
  k8pshConfig: string | undefined;
  content: Buffer;
  variables: Array<[string, string | undefined]>;
  baseDirectory: string;
  connectTimeoutMs: number;
  commands: DecodedCommand[];
}

export declare function decodeStubTable(file: Buffer): DecodedStubTable;
export interface StubTable {
  buildId: string;
  key: string;
  configVariable?: string | undefined;
  config: string | Buffer;
  variables: Array<[string, string | undefined]>;
  baseDirectory: string;
  connectTimeoutMs?: number;
  commands: Array<{ name: string; host: string; port: number; serverUid?: number; names: string[] }>;
}
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

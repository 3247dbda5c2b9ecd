/** Types of stub-table.mjs (plain JavaScript, written from docs/native-stubs.md). */
export declare const MAGIC: 'K8PSHNS1';
export declare const HEADER_SIZE: 24;
export declare const MAX_BODY: number;
export declare const MAX_CONTENT: number;
export declare function fnv1a64(data: string | Uint8Array): bigint;
export declare function tableFileName(buildId: string, key: string): string;

export interface DecodedCommand {
  name: string;
  host: string;
  port: number;
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

/**
 * src/protocol/ for the plain scripts of scripts/ and bench/ (docs/protocol.md, "One source"): node
 * runs them without a TypeScript loader, so esbuild bundles the modules into one ES module held in
 * memory, imported from a data: URL. Their frames are the server's and the client's own, never a
 * copy of the bytes.
 */
import { importTypeScript } from './typescript.mjs';

const MODULES = ['constants', 'codec', 'hello', 'data', 'client-session', 'server-frames'];

export const {
  ALL_FEATURES,
  CLIENT_FEATURES,
  ClientSession,
  DEFAULT_LIMITS,
  encodeExit,
  encodeHello,
  encodeHelloPayload,
  encodeHelloReply,
  encodeRequest,
  encodeString,
  encodeValue,
  ExitCode,
  Feature,
  FrameType,
  HEADER_SIZE,
  HELLO_MAGIC,
  HELLO_SIZE,
  localSocketPath,
  PASSED_FD_COUNT,
  PROTOCOL_VERSION,
  STDIN_END,
} = await importTypeScript(MODULES.map((module) => `protocol/${module}`));

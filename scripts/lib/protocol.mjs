/**
 * src/protocol/ for the plain scripts of scripts/ and bench/ (docs/protocol.md, "One source"): node
 * runs them without a TypeScript loader, so esbuild bundles the modules into one ES module held in
 * memory, imported from a data: URL. Their frames are the server's and the client's own, never a
 * copy of the bytes.
 */
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const MODULES = ['constants', 'codec', 'hello', 'data', 'client-session', 'server-frames'];

async function load() {
  const entry = MODULES.map((file) => `export * from './${file}.js';`).join('\n');
  // Sync: a one-shot esbuild process, not the service that would stay beside a long-running server.
  const result = esbuild.buildSync({
    stdin: {
      contents: entry,
      resolveDir: fileURLToPath(new URL('../../src/protocol', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString('base64')}`);
}

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
} = await load();

/** Types of protocol.mjs: the modules of src/protocol/ it bundles. */
export {
  ALL_FEATURES,
  CLIENT_FEATURES,
  DEFAULT_LIMITS,
  ExitCode,
  Feature,
  FrameType,
  HEADER_SIZE,
  HELLO_MAGIC,
  localSocketPath,
  PASSED_FD_COUNT,
  PROTOCOL_VERSION,
} from '../../src/protocol/constants.js';
export { encodeString, encodeValue } from '../../src/protocol/codec.js';
export { encodeHelloPayload, HELLO_SIZE } from '../../src/protocol/hello.js';
export { STDIN_END } from '../../src/protocol/data.js';
export { ClientSession, encodeHello, encodeRequest } from '../../src/protocol/client-session.js';
export { encodeExit, encodeHelloReply } from '../../src/protocol/server-frames.js';

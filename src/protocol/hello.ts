/** The HELLO payload: magic, protocol version, feature bits. */
import { HELLO_MAGIC, PROTOCOL_VERSION } from './constants.js';

export const HELLO_SIZE = 10;
/** Oldest protocol version this build still speaks. */
export const MIN_PROTOCOL_VERSION = 1;

export interface Hello {
  version: number;
  features: number;
}

export function encodeHelloPayload(hello: Hello): Buffer {
  const payload = Buffer.allocUnsafe(HELLO_SIZE);
  payload.writeUInt32LE(HELLO_MAGIC, 0);
  payload.writeUInt16LE(hello.version, 4);
  payload.writeUInt32LE(hello.features >>> 0, 6);
  return payload;
}

export function decodeHelloPayload(payload: Buffer): Hello | string {
  if (payload.length < HELLO_SIZE || payload.readUInt32LE(0) !== HELLO_MAGIC) return 'malformed HELLO frame';
  return { version: payload.readUInt16LE(4), features: payload.readUInt32LE(6) };
}

/** The version both sides speak, or a message saying why there is none. */
export function negotiateVersion(peerVersion: number): number | string {
  if (peerVersion < MIN_PROTOCOL_VERSION)
    return `protocol version ${peerVersion} is too old (this side speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`;
  return Math.min(peerVersion, PROTOCOL_VERSION);
}

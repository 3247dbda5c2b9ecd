/**
 * The frames of the wire protocol (docs/protocol.md) as the tests write and read them: 1 byte type,
 * 4 bytes little-endian value; a string frame's value is its payload's length and the payload
 * follows.
 *
 * An independent encoder, written from docs/protocol.md, so that tests do not check the code against
 * itself: the one place outside src/protocol that writes frames on purpose (docs/protocol.md, "One
 * source"). Plain JavaScript, typed by frames.d.mts.
 */

export const HEADER_SIZE = 5;

/** Types whose value is a payload length: 0-6 of the original protocol, HELLO, ERROR, TTY_REQUEST. */
export const STRING_FRAME_TYPES = new Set([0, 1, 2, 3, 4, 5, 6, 0x40, 0x41, 0x44]);

/**
 * A header alone: type and a raw u32 value (a value frame, or a length that lies). Byte by byte,
 * with no Buffer.alloc: the protocol tests build headers inside an allocation spy.
 */
export function valueFrame(type, value) {
  const v = value >>> 0;
  return Buffer.from([type, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
}

/** A string frame: type, u32 LE length, the bytes (a string as UTF-8). */
export function stringFrame(type, payload = '') {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return Buffer.concat([valueFrame(type, bytes.length), bytes]);
}

/**
 * The whole frames at the start of `data`: a value frame's value as a signed i32 (an exit code may
 * be negative), a string frame's payload as a view into `data`. `rest` counts the bytes of a torn
 * last frame, still to come.
 */
export function parseFrames(data) {
  const frames = [];
  let offset = 0;
  while (offset + HEADER_SIZE <= data.length) {
    const type = data[offset];
    const value = data.readUInt32LE(offset + 1);
    if (STRING_FRAME_TYPES.has(type)) {
      // A payload not all there yet: the frame waits for the rest.
      if (offset + HEADER_SIZE + value > data.length) break;
      frames.push({
        type,
        value,
        payload: data.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + value),
      });
      offset += HEADER_SIZE + value;
    } else {
      frames.push({ type, value: data.readInt32LE(offset + 1) });
      offset += HEADER_SIZE;
    }
  }
  return { frames, rest: data.length - offset };
}

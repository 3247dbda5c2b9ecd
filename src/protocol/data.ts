/**
 * Data frames (STDIN_DATA, STDOUT_DATA, STDERR_DATA), written the same way by both sides: a header
 * and the payload in one writev (the payload is never copied), in pieces of at most DATA_CHUNK_SIZE.
 * A zero-length data frame ends its stream.
 */
import { DATA_CHUNK_SIZE, FrameType } from './constants.js';
import { encodeHeader, encodeValue } from './codec.js';

/** c→s: the end of stdin; s→c: the process closed its stdin, stop sending it. */
export const STDIN_END = encodeValue(FrameType.STDIN_DATA, 0);
export const STDOUT_END = encodeValue(FrameType.STDOUT_DATA, 0);
export const STDERR_END = encodeValue(FrameType.STDERR_DATA, 0);

/** What a data frame is written to: a net.Socket. */
export interface FrameSink {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
}

/** Writes `chunk` as data frames of `type`; false when the sink wants no more for now. */
export function writeData(sink: FrameSink, type: number, chunk: Buffer): boolean {
  let flowing = true;
  for (let offset = 0; offset < chunk.length; offset += DATA_CHUNK_SIZE) {
    const piece = chunk.length <= DATA_CHUNK_SIZE ? chunk : chunk.subarray(offset, offset + DATA_CHUNK_SIZE);
    sink.cork();
    sink.write(encodeHeader(type, piece.length));
    flowing = sink.write(piece);
    sink.uncork();
  }
  return flowing;
}

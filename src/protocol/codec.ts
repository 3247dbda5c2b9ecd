/**
 * Frame encoder and incremental decoder (docs/protocol.md). Pure: bytes in,
 * callbacks out. Data frames stream through as sub-views of the input chunks,
 * so a 1 GiB stdout never sits in memory; control frames are collected whole
 * and capped, so an announced length is never trusted for an allocation.
 */
import { HEADER_SIZE, isConfirmFrame, isDataFrame, isKnownFrame, isStringFrame } from './constants.js';
import { freeBuffer } from './free-buffer.js';

export function encodeValue(type: number, value: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE);
  frame[0] = type;
  frame.writeUInt32LE(value >>> 0, 1);
  return frame;
}

/** Header only: the payload is written after it (writev), never copied. */
export const encodeHeader = encodeValue;

export function encodeString(type: number, payload: string | Uint8Array): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + bytes.length);
  frame[0] = type;
  frame.writeUInt32LE(bytes.length, 1);
  frame.set(bytes, HEADER_SIZE);
  return frame;
}

export interface FrameHandler {
  /** A frame whose value is not a length (TERMINATE_COMMAND, EXIT_CODE, SIGNAL, ...). */
  onValue(type: number, value: number): void;
  /**
   * A whole control string frame. The payload is a view into the input or into the decoder's
   * buffer, which the next frame reuses and `stop()` or `release()` frees: valid only during the
   * call and until one of those (copy or decode it to keep it).
   */
  onString(type: number, payload: Buffer): void;
  /** A piece of a data frame (STDIN/STDOUT/STDERR); a view into the input, valid only during the call. */
  onData(type: number, chunk: Buffer): void;
  /** A zero-length data frame: that stream ended. */
  onDataEnd(type: number): void;
  /** The stream is not a valid frame sequence; the decoder stops. */
  onError(message: string): void;
}

export interface DecoderLimits {
  maxFramePayload: number;
  maxDataPayload: number;
  /** START_READY and START_GO are frames here (a remote stream that asked for them), not unknown types. */
  confirmFrames?: boolean;
}

export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private type = 0;
  /** Payload bytes still to come for the current frame; 0 while reading a header. */
  private remaining = 0;
  /** Whether the current frame is a control frame, gathered whole before it is delivered. */
  private collecting = false;
  /** Its bytes so far, when they came in more than one chunk. */
  private collected: Buffer | null = null;
  private collectedFill = 0;
  /**
   * The buffer of the last frame gathered, reused by the next one: a request of megabytes of
   * arguments allocated every frame's buffer anew (64 KiB, 256 KiB, 1 MiB), garbage the server's
   * V8 let pile up to its external-memory limit. At most one frame's size; `release()` drops it.
   */
  private spare: Buffer | null = null;
  private failed = false;
  /** Set by `expectEnd`: the message for any byte that follows. */
  private trailing: string | null = null;

  constructor(
    private readonly handler: FrameHandler,
    private readonly limits: DecoderLimits,
  ) {}

  get broken(): boolean {
    return this.failed;
  }

  /** Bytes held for control frames: the one being gathered and the spare (each at most maxFramePayload). */
  get bufferedBytes(): number {
    return (this.collected?.length ?? 0) + (this.spare?.length ?? 0);
  }

  /** No more control frames are expected for a while (the request is complete): free the spare. */
  release(): void {
    freeBuffer(this.spare);
    this.spare = null;
  }

  /** True between frames: a connection closed here ended cleanly. */
  get idle(): boolean {
    return this.headerFill === 0 && this.remaining === 0;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    const length = chunk.length;
    while (offset < length && !this.failed) {
      if (this.trailing !== null) return this.fail(this.trailing);
      if (this.remaining > 0) {
        offset = this.payload(chunk, offset);
        continue;
      }
      const take = Math.min(HEADER_SIZE - this.headerFill, length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + take);
      this.headerFill += take;
      offset += take;
      if (this.headerFill === HEADER_SIZE) {
        this.headerFill = 0;
        this.frame(this.header[0]!, this.header.readUInt32LE(1));
      }
    }
  }

  /**
   * The frame just delivered is the peer's last (EXIT_CODE): any byte after
   * it, in this chunk or a later one, is an error with this message.
   */
  expectEnd(message: string): void {
    this.trailing = message;
  }

  /** Stop decoding: whatever follows is ignored. */
  fail(message: string): void {
    if (this.failed) return;
    this.stop();
    this.handler.onError(message);
  }

  /**
   * Stop decoding without an error (the peer was refused): whatever follows is ignored, and the
   * buffers of a frame half gathered are freed now, not when the connection goes.
   */
  stop(): void {
    this.failed = true;
    this.collecting = false;
    freeBuffer(this.collected);
    this.collected = null;
    this.release();
  }

  private frame(type: number, value: number): void {
    if (!isKnownFrame(type) && !(this.limits.confirmFrames === true && isConfirmFrame(type)))
      return this.fail(`unknown frame type ${type}`);
    if (!isStringFrame(type)) return this.handler.onValue(type, value);
    if (isDataFrame(type)) {
      if (value === 0) return this.handler.onDataEnd(type);
      if (value > this.limits.maxDataPayload)
        return this.fail(`data frame of ${value} bytes exceeds the limit of ${this.limits.maxDataPayload}`);
      this.type = type;
      this.remaining = value;
      return;
    }
    if (value > this.limits.maxFramePayload)
      return this.fail(`frame of ${value} bytes exceeds the limit of ${this.limits.maxFramePayload}`);
    if (value === 0) return this.handler.onString(type, Buffer.alloc(0));
    this.type = type;
    this.remaining = value;
    this.collecting = true;
    this.collectedFill = 0;
  }

  /**
   * A buffer of at least `size` bytes for the frame being gathered: the spare when it is large
   * enough, else a new one (and a spare too small is freed: one buffer held at a time). A small
   * one is a slice of Node's pool, left to the collector (./free-buffer.ts).
   */
  private buffer(size: number): Buffer {
    const spare = this.spare;
    this.spare = null;
    if (spare !== null && spare.length >= size) return spare;
    freeBuffer(spare);
    return Buffer.allocUnsafe(size);
  }

  private payload(chunk: Buffer, offset: number): number {
    const take = Math.min(this.remaining, chunk.length - offset);
    const end = offset + take;
    this.remaining -= take;
    if (!this.collecting) {
      this.handler.onData(this.type, chunk.subarray(offset, end));
      return end;
    }
    if (this.collected === null && this.remaining === 0) {
      // The whole payload is in this chunk: delivered as a view, nothing copied or allocated.
      this.collecting = false;
      this.handler.onString(this.type, chunk.subarray(offset, end));
      return end;
    }
    if (this.collected === null) {
      // Grows with what actually arrives, not with what the header announced.
      this.collected = this.buffer(Math.min(take + this.remaining, Math.max(take, 64 * 1024)));
    } else if (this.collectedFill + take > this.collected.length) {
      const needed = this.collectedFill + take;
      const total = needed + this.remaining;
      // Doubling: the buffer never holds more than twice what arrived (the request budget counts
      // what arrived).
      const grown = this.buffer(Math.max(needed, Math.min(total, this.collected.length * 2)));
      this.collected.copy(grown, 0, 0, this.collectedFill);
      freeBuffer(this.collected);
      this.collected = grown;
    }
    chunk.copy(this.collected, this.collectedFill, offset, end);
    this.collectedFill += take;
    if (this.remaining === 0) {
      const collected = this.collected;
      this.collecting = false;
      this.collected = null;
      // Kept for the next frame, unless the handler fails the stream or releases it meanwhile.
      if (this.spare === null || this.spare.length < collected.length) this.spare = collected;
      this.handler.onString(this.type, collected.subarray(0, this.collectedFill));
    }
    return end;
  }
}

/** Types of frames.mjs (plain JavaScript). */
export declare const HEADER_SIZE: 5;
export declare const STRING_FRAME_TYPES: ReadonlySet<number>;
export declare function valueFrame(type: number, value: number): Buffer;
export declare function stringFrame(type: number, payload?: string | Uint8Array): Buffer;

export interface Frame {
  type: number;
  value: number;
  payload?: Buffer;
}

export declare function parseFrames(data: Buffer): { frames: Frame[]; rest: number };

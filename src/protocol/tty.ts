/** TTY_REQUEST payload and WINDOW_SIZE value. */

export interface TtyRequest {
  rows: number;
  cols: number;
  term: string;
}

export function encodeTtyPayload(tty: TtyRequest): Buffer {
  const term = Buffer.from(tty.term, 'utf8');
  const payload = Buffer.allocUnsafe(4 + term.length);
  payload.writeUInt16LE(clampSize(tty.rows), 0);
  payload.writeUInt16LE(clampSize(tty.cols), 2);
  term.copy(payload, 4);
  return payload;
}

export function decodeTtyPayload(payload: Buffer): TtyRequest | string {
  if (payload.length < 4) return 'malformed TTY_REQUEST frame';
  return {
    rows: payload.readUInt16LE(0) || 24,
    cols: payload.readUInt16LE(2) || 80,
    term: payload.toString('utf8', 4),
  };
}

export function encodeWindowSize(rows: number, cols: number): number {
  return ((clampSize(rows) << 16) | clampSize(cols)) >>> 0;
}

export function decodeWindowSize(value: number): { rows: number; cols: number } {
  return { rows: value >>> 16 || 24, cols: value & 0xffff || 80 };
}

function clampSize(n: number): number {
  return Math.max(0, Math.min(0xffff, Math.floor(n)));
}

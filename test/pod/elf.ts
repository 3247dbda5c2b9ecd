/**
 * Just enough ELF reading to tell what an executable asks of the image it runs in: its program
 * interpreter (PT_INTERP), the loader the kernel starts it through. None means static: it runs in a
 * root with no libc at all.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const PT_INTERP = 3;

/** `length` bytes of a file from `position` (fewer at its end): no need to read 100 MB for a header. */
function readAt(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
  } finally {
    closeSync(fd);
  }
}

interface ProgramHeader {
  type: number;
  offset: number;
  fileSize: number;
}

/** The program headers of a 64-bit little-endian ELF file (x86_64, arm64). */
export function programHeaders(file: string): ProgramHeader[] {
  const header = readAt(file, 0, 64);
  if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1)
    throw new Error(`${file} is not a 64-bit little-endian ELF file`);
  const size = header.readUInt16LE(0x36);
  const count = header.readUInt16LE(0x38);
  // The table may sit anywhere in the file (node's is past its first 30 MB).
  const table = readAt(file, Number(header.readBigUInt64LE(0x20)), size * count);
  return Array.from({ length: count }, (_, i) => ({
    type: table.readUInt32LE(i * size),
    offset: Number(table.readBigUInt64LE(i * size + 8)),
    fileSize: Number(table.readBigUInt64LE(i * size + 32)),
  }));
}

/** The loader an executable names (e.g. /lib64/ld-linux-x86-64.so.2), or undefined when static. */
export function interpreterOf(file: string): string | undefined {
  const header = programHeaders(file).find((h) => h.type === PT_INTERP);
  if (header === undefined) return undefined;
  return readAt(file, header.offset, header.fileSize).toString('latin1').replace(/\0+$/, '');
}

/** Whether a file starts like an ELF file. */
export function isElf(file: string): boolean {
  try {
    const data = readAt(file, 0, 4);
    return data.length === 4 && data.readUInt32BE(0) === 0x7f454c46;
  } catch {
    return false;
  }
}

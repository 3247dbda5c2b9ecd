/**
 * FNV-1a 64 (the compiled table's checksum and file name: docs/native-stubs.md), on two 32-bit
 * halves: BigInt arithmetic would cost milliseconds over a configuration of a megabyte.
 * prime = 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (h << 40) modulo 2^64.
 */
export function fnv1a64(data: Uint8Array): { hi: number; lo: number } {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < data.length; i++) {
    lo = (lo ^ (data[i] as number)) >>> 0;
    const low = lo * 0x1b3; // < 2^41: exact
    const carry = Math.floor(low / 0x100000000);
    hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0; // < 2^42 before the modulo: exact
    lo = low >>> 0;
  }
  return { hi, lo };
}

/** The 16 lowercase hex digits of FNV-1a 64 of the text's UTF-8 bytes. */
export function fnv1a64Hex(data: Uint8Array): string {
  const { hi, lo } = fnv1a64(data);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** sha256 of an addon's bytes: names its cache directory (./cache.ts). Build time and tests only. */
import { createHash } from 'node:crypto';

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

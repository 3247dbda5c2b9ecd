#!/usr/bin/env node
/**
 * A counting `cat > /dev/null`: reads stdin to its end and prints one JSON line with the byte count
 * and the streaming rate, timed from the first byte to the end (so the start-up of whatever feeds it
 * is not counted as streaming time).
 *
 *   producer | node sink.mjs      → {"bytes":N,"seconds":S,"mibPerSecond":R}
 *
 * It reads like cat does (blocking reads into one reused 1 MiB buffer), so that it is never the
 * bottleneck: a stream-based reader allocates per chunk and caps a local pipe at a third of this.
 */
import { readSync } from 'node:fs';

const buffer = Buffer.allocUnsafe(1 << 20);
const pause = new Int32Array(new SharedArrayBuffer(4));
let bytes = 0;
let first = 0n;
for (;;) {
  let n;
  try {
    n = readSync(0, buffer, 0, buffer.length, null);
  } catch (error) {
    if (error.code === 'EAGAIN') {
      Atomics.wait(pause, 0, 0, 1); // a non-blocking stdin: wait a millisecond and read again
      continue;
    }
    if (error.code === 'EOF') break;
    throw error;
  }
  if (n === 0) break;
  if (bytes === 0) first = process.hrtime.bigint();
  bytes += n;
}
const seconds = bytes ? Number(process.hrtime.bigint() - first) / 1e9 : 0;
const mibPerSecond = seconds > 0 ? bytes / 1048576 / seconds : 0;
process.stdout.write(`${JSON.stringify({ bytes, seconds, mibPerSecond })}\n`);

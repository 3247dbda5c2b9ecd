#!/usr/bin/env node
/**
 * A slow consumer: reads stdin at no more than RATE MiB/s (pausing the stream when ahead of
 * schedule), then prints one JSON line with the byte count and the achieved rate.
 *
 *   producer | node slow-reader.mjs 64
 */
import { setTimeout as sleep } from 'node:timers/promises';

const rate = Number(process.argv[2] ?? 64) * 1048576; // bytes per second
const stdin = process.stdin;
let bytes = 0;
let start = 0n;
stdin.on('data', (chunk) => {
  if (bytes === 0) start = process.hrtime.bigint();
  bytes += chunk.length;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const ahead = bytes / rate - elapsed;
  if (ahead > 0.005) {
    stdin.pause();
    void sleep(ahead * 1000).then(() => stdin.resume());
  }
});
stdin.on('end', () => {
  const seconds = bytes ? Number(process.hrtime.bigint() - start) / 1e9 : 0;
  process.stdout.write(
    `${JSON.stringify({ bytes, seconds, mibPerSecond: seconds ? bytes / 1048576 / seconds : 0 })}\n`,
  );
});

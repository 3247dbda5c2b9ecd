/** The build's progress lines: one per stage, each with the time since the start. */
import console from 'node:console';
import * as path from 'node:path';
import process from 'node:process';
import { root } from './root.mjs';

/** { log, elapsed }: log prints a line unless quiet; elapsed is `1.2 s` since this call. */
export function progress(quiet) {
  const started = process.hrtime.bigint();
  const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;
  const log = (line) => {
    if (!quiet) console.log(line);
  };
  return { log, elapsed };
}

/** A path relative to the repository when inside it (shorter lines), else absolute. */
export function show(file) {
  const relative = path.relative(root, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

export function kib(bytes) {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

export function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Small statistics and /proc helpers for the benchmark. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** Median plus the spread a reader needs on a noisy machine: min, quartiles, max, run count. */
export function summary(values) {
  return {
    median: round(quantile(values, 0.5)),
    min: round(Math.min(...values)),
    p25: round(quantile(values, 0.25)),
    p75: round(quantile(values, 0.75)),
    max: round(Math.max(...values)),
    runs: values.length,
  };
}

export function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), or NaN when the process is gone. */
export function statusKiB(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Bytes in a MiB: the sizes and memory figures are in MiB. */
export const MiB = 1048576;

export const rssMiB = (pid) => statusKiB(pid, 'VmRSS') / 1024;

/** Resets VmHWM (the peak RSS) of a process we own; false when the kernel does not allow it. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Children of a process (Linux ≥ 3.5 with CONFIG_PROC_CHILDREN), else []. */
export function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

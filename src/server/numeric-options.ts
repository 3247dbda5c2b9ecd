/**
 * The rules of k8pshd's numeric options (README.md, "Server k8pshd"; docs/limits.md). Values are
 * parsed here, not by yargs: yargs' numbers accept `1e3`, `0x10` and `1.5`
 * and round integers past 2^53, where a wrong value must be a clear error.
 */
import { UsageError } from '../errors.js';

/** Node's timers take at most 2^31-1 ms (a larger delay fires at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface NumericRule {
  /** Any negative value means "no limit" and is returned as -1 (the original: `max < 0`). */
  negativeUnlimited: boolean;
  /** Smallest value accepted otherwise (0 or 1). */
  min: number;
  max: number;
  /** What a negative value means, for the error message. */
  negativeMeans?: string;
}

/** `--max-connections`, `--timeout`: the original's meaning for every integer it accepts. */
export const UNLIMITED_IF_NEGATIVE = (negativeMeans: string): NumericRule => ({
  negativeUnlimited: true,
  min: 0,
  max: Number.MAX_SAFE_INTEGER,
  negativeMeans,
});
/** Limits: zero or less would refuse everything. */
export const POSITIVE: NumericRule = { negativeUnlimited: false, min: 1, max: Number.MAX_SAFE_INTEGER };
/** A user id: 0 to 2^32-2 ((uid_t)-1 is no uid). */
export const UID: NumericRule = { negativeUnlimited: false, min: 0, max: 2 ** 32 - 2 };
/** A deadline kept in one Node timer. */
export const POSITIVE_TIMER: NumericRule = { negativeUnlimited: false, min: 1, max: MAX_TIMER_MS };

/** A decimal integer with an optional sign; anything else (fractions, exponents, hex, blanks) is refused. */
const INTEGER = /^[+-]?\d+$/;

export function parseNumericOption(option: string, value: unknown, rule: NumericRule): number {
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
  if (INTEGER.test(text)) {
    const n = BigInt(text);
    if (n < 0n && rule.negativeUnlimited) return -1;
    if (n >= BigInt(rule.min) && n <= BigInt(rule.max)) return Number(n);
  }
  const range = rule.negativeUnlimited
    ? `an integer up to ${rule.max} (negative: ${rule.negativeMeans})`
    : `an integer from ${rule.min} to ${rule.max}`;
  const shown = typeof value === 'string' ? JSON.stringify(value) : 'nothing';
  throw new UsageError(`--${option} must be ${range}, not ${shown}`);
}

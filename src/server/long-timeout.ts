/** setTimeout for any delay: Node fires a delay over 2^31-1 ms at once, so a long one is chained. */
import { MAX_TIMER_MS } from './numeric-options.js';

export function setLongTimeout(ms: number, callback: () => void): void {
  if (ms <= MAX_TIMER_MS) setTimeout(callback, ms);
  else setTimeout(() => setLongTimeout(ms - MAX_TIMER_MS, callback), MAX_TIMER_MS);
}

/** Signal names and numbers of this platform (client and server are both Linux). */
import { constants } from 'node:os';
import { CORE_SIGNALS as SHARED_CORE, FORWARDED_SIGNALS as SHARED_FORWARDED } from './shared-rules.js';

const numbers = constants.signals as Record<string, number>;
const names = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(numbers))
  if (!names.has(number)) names.set(number, name as NodeJS.Signals);

export function signalNumber(name: string): number | undefined {
  return numbers[name];
}

export function signalName(number: number): NodeJS.Signals | undefined {
  return names.get(number);
}

/** Forwarded to the remote process group (docs/session.md, "Signals and endings"; the list: src/shared-rules.ts). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = SHARED_FORWARDED;

/** Their default action dumps core: a client reports them as an exit status 128+N instead of raising them. */
export const CORE_SIGNALS: ReadonlySet<string> = new Set(SHARED_CORE);

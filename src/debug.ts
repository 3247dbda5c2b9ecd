/**
 * K8PSH_DEBUG=Main,Process,Configuration (or `all`) turns on debug output per
 * component, as in the original. Cheap when off: the stub path pays one env
 * lookup; pino is loaded only by the server (src/log.ts).
 */
const spec = (process.env.K8PSH_DEBUG ?? '').trim().toLowerCase();
const all = spec === 'all' || spec === '*' || spec === '1';
const enabled = new Set(
  spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean),
);

export function debugEnabled(component: string): boolean {
  return all || enabled.has(component.toLowerCase());
}

export const anyDebug = spec !== '';

/** Client-side debug line on stderr; a stub's stderr belongs to the remote command, so only when asked. */
export function clientDebug(component: string, message: string): void {
  if (debugEnabled(component)) process.stderr.write(`k8psh[${process.pid}] ${component}: ${message}\n`);
}

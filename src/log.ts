/**
 * Server logs (pino): JSON lines on stderr, human-readable when stderr is a
 * terminal or with --log-format=pretty. K8PSH_DEBUG turns on debug level per
 * component (Main, Process, Configuration, Socket, Server) or for `all`.
 * Never imported on the stub path.
 */
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { debugEnabled } from './debug.js';

export type LogFormat = 'json' | 'pretty' | 'auto';

let root: Logger | undefined;
/** One child per component: the server asks for one per session, and pino's child() is not free. */
const children = new Map<string, Logger>();

export function initLogger(
  format: LogFormat = 'auto',
  destination: NodeJS.WritableStream = process.stderr,
): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  const stream = pretty
    ? pinoPretty({
        sync: true,
        destination: 2,
        // Colours for a person at a terminal, unless NO_COLOR is set (no-color.org).
        colorize: process.stderr.isTTY === true && !process.env.NO_COLOR,
        ignore: 'pid,hostname',
      })
    : destination === process.stderr
      ? pino.destination({ dest: 2, sync: true })
      : destination;
  root = pino({ base: { pid: process.pid }, level: 'debug' }, stream);
  children.clear();
  return root;
}

export function logger(component: string): Logger {
  root ??= initLogger();
  let child = children.get(component);
  if (!child) {
    child = root.child({ component }, { level: debugEnabled(component) ? 'debug' : 'info' });
    children.set(component, child);
  }
  return child;
}

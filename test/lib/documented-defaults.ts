/**
 * The defaults the documentation promises, read from the documents themselves, so that the tests
 * comparing them with the server (test/server/defaults.test.ts, test/hostile/defaults.test.ts) fail
 * as soon as docs and code drift apart:
 * - docs/limits.md, the table under "## Limits": every limit, its default and its flag;
 * - README.md, the table of k8pshd's options: --max-connections, --timeout, --pidfile;
 * - docs/configuration.md, the table of common settings: connectTimeoutMs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../e2e/harness.js';

/** The rows of the limits table, by what they limit (its first column, word for word). */
const LIMIT_ROWS = {
  'time to send the whole request': 'requestTimeoutMs',
  'concurrent connections': 'maxSessions',
  'request bytes in progress, all clients': 'maxRequestBytes',
  'one control frame (directory, argument, …)': 'maxFramePayload',
  'number of arguments': 'maxArguments',
  'bytes of all arguments': 'maxArgumentBytes',
  'number of environment variables': 'maxEnvironmentVariables',
  'bytes of all environment variables': 'maxEnvironmentBytes',
  'one stdin data frame': 'maxDataPayload',
  'after a refusal, time for the peer to close': 'refusalLingerMs',
  'after the client is gone, time before SIGKILL': 'killGraceMs',
} as const;

export type LimitKey = (typeof LIMIT_ROWS)[keyof typeof LIMIT_ROWS];

export interface DocumentedLimit {
  /** The default in bytes, milliseconds or a count. */
  value: number;
  /** A second figure in parentheses: "5 s (2 s at the session cap)" gives 2000. */
  alternative?: number;
  /** The flag that sets it (`--max-sessions`), null for a fixed one. */
  flag: string | null;
  /** The cell as written. */
  text: string;
}

const UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, KiB: 1 << 10, MiB: 1 << 20, GiB: 1 << 30 };

/** "30000 ms", "1024", "32 MiB", "16 MiB (fixed)", "5 s (2 s at the session cap)". */
function quantity(text: string): { value: number; alternative?: number } {
  const match = /^(\d+)(?: (ms|s|KiB|MiB|GiB))?(?: \((?:(\d+)(?: (ms|s|KiB|MiB|GiB))? )?[^)]*\))?$/.exec(
    text,
  );
  if (!match) throw new Error(`not a quantity: "${text}"`);
  const value = Number(match[1]) * UNITS[match[2] ?? '']!;
  if (match[3] === undefined) return { value };
  return { value, alternative: Number(match[3]) * UNITS[match[4] ?? '']! };
}

/** The cells of the Markdown table rows that follow `heading`, up to the next heading. */
function tableRows(text: string, heading: string): string[][] {
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}"`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/^#/m);
  return (end < 0 ? rest : rest.slice(0, end))
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .slice(1)
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** docs/limits.md's table: every row known, every known row there. */
export function documentedLimits(): Record<LimitKey, DocumentedLimit> {
  const found = new Map<LimitKey, DocumentedLimit>();
  for (const [limit, text, flagCell] of tableRows(read('docs/limits.md'), '## Limits')) {
    const key = LIMIT_ROWS[limit as keyof typeof LIMIT_ROWS];
    if (!key) throw new Error(`docs/limits.md: a limit the tests do not know: "${limit}"`);
    const flag = /^`(--[a-z-]+)(?: [A-Z]+)?`$/.exec(flagCell!)?.[1] ?? null;
    found.set(key, { ...quantity(text!), flag, text: text! });
  }
  for (const [limit, key] of Object.entries(LIMIT_ROWS))
    if (!found.has(key)) throw new Error(`docs/limits.md: no row "${limit}"`);
  return Object.fromEntries(found) as Record<LimitKey, DocumentedLimit>;
}

/** README.md's k8pshd options table: the defaults it states. */
export function documentedServerDefaults(): { maxConnections: number; timeout: number; pidfile: string } {
  const rows = tableRows(read('README.md'), '### Server `k8pshd`');
  const meaning = (option: string): string => {
    const row = rows.find(([cell]) => cell === option);
    if (!row) throw new Error(`README.md: no option ${option}`);
    return row[1]!;
  };
  const number = (option: string): number => {
    const match = /\(default (-?\d+)\)/.exec(meaning(option));
    if (!match) throw new Error(`README.md: no "(default N)" for ${option}`);
    return Number(match[1]);
  };
  const pidfile = /\(default `([^`]+)`/.exec(meaning('`-p, --pidfile FILE`'))?.[1];
  if (!pidfile) throw new Error('README.md: no default pidfile');
  return {
    maxConnections: number('`-m, --max-connections N`'),
    timeout: number('`-t, --timeout MS`'),
    pidfile,
  };
}

/** docs/configuration.md's settings table: "Default N." of connectTimeoutMs. */
export function documentedConnectTimeoutMs(): number {
  const text = read('docs/configuration.md');
  const row = text.split('\n').find((line) => line.startsWith('| `connectTimeoutMs` |'));
  const match = row && /Default (-?\d+)\./.exec(row);
  if (!match) throw new Error('docs/configuration.md: no default for connectTimeoutMs');
  return Number(match[1]);
}

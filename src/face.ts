/**
 * Which face the executable shows (docs/session.md, "Faces"), decided from the name it was invoked by and its
 * arguments alone. Only src/main.ts acts on it: the server and the client never load each other.
 */
import { basename } from 'node:path';
import { SCRIPT_SUFFIXES } from './shared-rules.js';

export type Face =
  /** `k8psh --version` / `k8pshd -v`: answered without loading an option parser. */
  | { kind: 'version'; name: 'k8psh' | 'k8pshd' }
  | { kind: 'server'; args: string[] }
  | { kind: 'frontend'; args: string[] }
  /** Any other name: a stub running the configured command of that name. */
  | { kind: 'stub'; command: string; args: string[] };

const SERVER_FLAGS = new Set(['-s', '--server']);
/** Front-end options that take the next word as their value (`-n` too, with --health). */
const VALUE_OPTIONS = new Set(['-c', '--config', '--install', '--convert-config', '--name']);

/** In the single executable argv[1] is the name we were invoked by; under node it is the script. */
export function invokedName(argv = process.argv): string {
  const name = basename(argv[1] ?? 'k8psh');
  const suffix = SCRIPT_SUFFIXES.find((end) => name.length > end.length && name.endsWith(end));
  return suffix ? name.slice(0, -suffix.length) : name;
}

/** Each of src/shared-rules.ts OWN_NAMES has a face of its own; any other name is a stub. */
export function chooseFace(name: string, args: string[]): Face {
  if (
    (name === 'k8psh' || name === 'k8pshd') &&
    args.length === 1 &&
    (args[0] === '-v' || args[0] === '--version')
  )
    return { kind: 'version', name };
  if (name === 'k8pshd') return serverOrProbe(args);
  if (name === 'k8psh' || name === 'main') {
    // `-s` hands every other argument to the server parser, wherever it stands among the options.
    const commandIndex = firstCommandIndex(args, isHealthCall(args));
    const head = commandIndex < 0 ? args.length : commandIndex;
    if (args.slice(0, head).some((arg) => SERVER_FLAGS.has(arg)))
      return serverOrProbe(args.filter((arg, i) => i >= head || !SERVER_FLAGS.has(arg)));
    return { kind: 'frontend', args };
  }
  return { kind: 'stub', command: name, args };
}

/** The health probe is usually run through the installed k8pshd name: it is the front end's. */
function serverOrProbe(args: string[]): Face {
  return args.includes('--health') ? { kind: 'frontend', args } : { kind: 'server', args };
}

/** Index of the first word that is neither an option nor an option's value, or -1. */
export function firstCommandIndex(args: readonly string[], nameOption = false): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return i + 1 < args.length ? i + 1 : -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (VALUE_OPTIONS.has(arg) || (nameOption && arg === '-n')) i++;
  }
  return -1;
}

/**
 * Whether `--health` is among the options (before any command): `-n` is then `--name NAME`, as for
 * the server; otherwise it is the front end's `-n` (stdin from /dev/null, as ssh's).
 */
export function isHealthCall(args: readonly string[]): boolean {
  const end = firstCommandIndex(args);
  return args.slice(0, end < 0 ? args.length : end).includes('--health');
}

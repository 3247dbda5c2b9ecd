/**
 * The K8PSH_* variables a stub obeys (docs/native-stubs.md, "When a stub hands over"), read here and
 * nowhere else in TypeScript; native/front/switches.c reads the same names (generated from this
 * file into native/front/shared.h) with the same meanings, cross-checked by
 * test/front/shared-rules.test.ts. Each reader takes the variable's value (undefined when unset).
 */
export const Switch = {
  /** 1: the native stub or nothing (exit 125 with the reason); 0: never the native stub. */
  NATIVE: 'K8PSH_NATIVE',
  /** 1/true or 0/false: a pseudo-terminal or none, whatever fd 0-2 are (docs/terminals.md). */
  TTY: 'K8PSH_TTY',
  /** 0: relay stdio over the socket instead of passing the descriptors (docs/protocol.md). */
  DIRECT_STDIO: 'K8PSH_DIRECT_STDIO',
  /** null: stdin from /dev/null, as `ssh -n`; any other non-empty value is a usage error. */
  STDIN: 'K8PSH_STDIN',
  /** The configuration file; set and empty: no configuration (and no native path). */
  CONFIG: 'K8PSH_CONFIG',
  /** Debug output by component (src/debug.ts): the native stub has none, so it hands over. */
  DEBUG: 'K8PSH_DEBUG',
} as const;
export type Switch = (typeof Switch)[keyof typeof Switch];

/** K8PSH_NATIVE: 'only' (1), 'never' (0) or 'auto' (anything else). */
export function nativeSwitch(value: string | undefined): 'only' | 'never' | 'auto' {
  return value === '1' ? 'only' : value === '0' ? 'never' : 'auto';
}

/** K8PSH_TTY: true (1, true), false (0, false), undefined (the default choice). */
export function ttySwitch(value: string | undefined): boolean | undefined {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

/** K8PSH_DIRECT_STDIO: descriptors are passed unless it is 0. */
export function directStdioSwitch(value: string | undefined): boolean {
  return value !== '0';
}

/** K8PSH_STDIN: 'null', 'inherit' (unset or empty) or 'invalid'. */
export function stdinSwitch(value: string | undefined): 'null' | 'inherit' | 'invalid' {
  if (value === undefined || value === '') return 'inherit';
  return value === 'null' ? 'null' : 'invalid';
}

/** K8PSH_DEBUG: whether any debug output is asked for (the native stub then hands over). */
export function debugSwitch(value: string | undefined): boolean {
  return value !== undefined && value !== '';
}

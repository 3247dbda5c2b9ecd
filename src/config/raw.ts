/**
 * The configuration as written, before load-time substitution: what k8psh.conf and TOML both
 * parse to, what the model is built from, and what the converter re-emits.
 */
import type { EnvSpecKind } from './model.js';
import type { Segment } from './substitute.js';
import { type Word, dropLiteral, splitAtLiteral, startsWithLiteral } from './words.js';

export interface RawSpec {
  kind: EnvSpecKind;
  name: Segment[];
  value: Segment[];
  /** The whole spec token (location, and the converter's output). */
  word: Word;
}

export interface RawCommand {
  name: Word;
  environment: RawSpec[];
  /** Executable and fixed arguments; undefined when the line names none. */
  executable: Word[] | undefined;
}

export interface RawSection {
  /** The host name (without `:port`). */
  name: Word;
  /** Undefined: previous section's port + 1. */
  port: Word | number | undefined;
  environment: RawSpec[];
  options: Word[];
  commands: RawCommand[];
}

export interface RawConfig {
  baseDirectory: Word | undefined;
  connectTimeoutMs: Word | number | undefined;
  sections: RawSection[];
}

/**
 * `NAME=value`, `?NAME=value` or `=NAME=value`: a word with a literal `=` after its first
 * character. Anything else is not an env spec (undefined).
 */
export function parseSpec(word: Word): RawSpec | undefined {
  let kind: EnvSpecKind = 'required';
  let rest = word.segs;
  if (startsWithLiteral(rest, '?')) kind = 'optional';
  else if (startsWithLiteral(rest, '=')) kind = 'inherited';
  if (kind !== 'required') rest = dropLiteral(rest, 1);
  const split = splitAtLiteral(rest, '=');
  if (split === undefined) return undefined;
  return { kind, name: split[0], value: split[1], word };
}

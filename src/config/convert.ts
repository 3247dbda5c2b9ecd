/**
 * k8psh.conf → TOML. Words are re-emitted as written (load-time `${...}` references stay
 * references, single-quoted text becomes `$${...}`), so the TOML loads to the same model as the
 * conf in any environment.
 */
import path from 'node:path';
import { type ParseOptions, buildConfig } from './build.js';
import { ConfigError } from './errors.js';
import { parseConfRaw } from './parse.js';
import { quoteTomlString } from './quote.js';
import type { RawSpec } from './raw.js';
import { type Word, encodeTomlText, literalText } from './words.js';

export { quoteTomlString } from './quote.js';

/**
 * Converts k8psh.conf text to TOML text. The conf is validated first by loading it with
 * `opts.env`: a conf that does not load is not converted. Comments are not carried over.
 */
export function convertConfToToml(text: string, file: string, opts: ParseOptions): string {
  const raw = parseConfRaw(text, file, opts.warn);
  buildConfig(raw, file, opts);

  const str = (word: Word): string => {
    try {
      return quoteTomlString(encodeTomlText(word.segs));
    } catch (error) {
      throw new ConfigError(file, word.line, word.column, (error as Error).message);
    }
  };
  const array = (words: Word[]): string => `[${words.map(str).join(', ')}]`;
  const specs = (list: RawSpec[]): string => array(list.map((spec) => spec.word));
  /** A literal integer is written as a TOML integer, anything with references as a string. */
  const integer = (word: Word): string => {
    const text = literalText(word.segs);
    return text !== undefined && text.trim() === text && text !== '' && Number.isInteger(Number(text))
      ? String(Number(text))
      : str(word);
  };

  const out = [`# Converted from ${path.basename(file)} by k8psh.`];
  if (raw.baseDirectory !== undefined) out.push(`baseDirectory = ${str(raw.baseDirectory)}`);
  if (raw.connectTimeoutMs !== undefined) {
    const timeout = raw.connectTimeoutMs;
    out.push(`connectTimeoutMs = ${typeof timeout === 'number' ? timeout : integer(timeout)}`);
  }
  for (const section of raw.sections) {
    out.push('', '[[servers]]', `name = ${str(section.name)}`);
    const { port } = section;
    if (port !== undefined) out.push(`port = ${typeof port === 'number' ? port : integer(port)}`);
    if (section.environment.length > 0) out.push(`environment = ${specs(section.environment)}`);
    if (section.options.length > 0) out.push(`options = ${array(section.options)}`);
    for (const command of section.commands) {
      out.push('', '  [[servers.commands]]', `  name = ${str(command.name)}`);
      if (command.environment.length > 0) out.push(`  environment = ${specs(command.environment)}`);
      if (command.executable !== undefined) out.push(`  executable = ${array(command.executable)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

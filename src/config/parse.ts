/**
 * The k8psh.conf parser (docs/configuration.md, "k8psh.conf"). It runs on every stub invocation, so
 * it is one linear pass over char codes: no regular expressions, no dependencies.
 */
import { type ParseOptions, buildConfig, display } from './build.js';
import { ConfigError } from './errors.js';
import type { Config } from './model.js';
import { type RawCommand, type RawConfig, type RawSection, type RawSpec, parseSpec } from './raw.js';
import { type Segment, pushLit, scanRefs } from './substitute.js';
import { type Word, literalText, splitAtLiteral, startsWithLiteral } from './words.js';

export type { ParseOptions } from './build.js';

const TAB = 9;
const LF = 10;
const VT = 11;
const FF = 12;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const EQUALS = 61;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const NONE = -1;

/** Whitespace that does not end a line (CR too, so CRLF files read like LF files). */
function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === VT || c === FF;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  "'": "'",
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  '0': '\0',
};

class Lexer {
  pos = 0;
  line = 1;
  lineStart = 0;

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = this.lineStart = 1; // a UTF-8 byte order mark
  }

  fail(problem: string, line = this.line, column = this.pos - this.lineStart + 1): never {
    throw new ConfigError(this.file, line, column, problem);
  }

  code(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : NONE;
  }

  newline(at: number): void {
    this.line++;
    this.lineStart = at + 1;
  }

  skipBlanks(): void {
    while (isBlank(this.code())) this.pos++;
  }

  /** Skips whitespace including line ends. */
  skipSpace(): void {
    for (let c = this.code(); isBlank(c) || c === LF; c = this.code()) {
      if (c === LF) this.newline(this.pos);
      this.pos++;
    }
  }

  /** Skips a comment up to (not including) the line end. */
  skipComment(): void {
    const end = this.text.indexOf('\n', this.pos);
    this.pos = end < 0 ? this.text.length : end;
  }

  /** After a value: only blanks and a comment may remain on the line. */
  endOfLine(): void {
    this.skipBlanks();
    const c = this.code();
    if (c === HASH) this.skipComment();
    else if (c !== LF && c !== NONE) {
      const end = this.text.indexOf('\n', this.pos);
      const rest = this.text.slice(this.pos, end < 0 ? undefined : end).trimEnd();
      this.fail(`unexpected text after the value: ${display(rest)}`);
    }
  }

  /** A string: adjacent unquoted, 'single' and "double" pieces, up to whitespace, `#` or `terminator`. */
  word(terminator: number, inBrackets: boolean): Word {
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const segs: Segment[] = [];
    for (;;) {
      const c = this.code();
      if (c === SQUOTE) this.singleQuoted(segs, inBrackets);
      else if (c === DQUOTE) this.doubleQuoted(segs, inBrackets);
      else {
        const start = this.pos;
        for (let d = c; d !== NONE && !isBlank(d) && d !== LF && d !== HASH; d = this.code()) {
          if (d === SQUOTE || d === DQUOTE || d === terminator) break;
          this.pos++;
        }
        if (this.pos === start) break;
        scanRefs(this.text.slice(start, this.pos), false, segs);
      }
    }
    return { segs, line, column };
  }

  /** Counts line ends inside a quoted piece; they are not allowed inside `[...]`. */
  private quotedNewline(at: number, inBrackets: boolean): void {
    if (inBrackets) {
      this.pos = at;
      this.fail('newline inside section brackets');
    }
    this.newline(at);
  }

  private singleQuoted(segs: Segment[], inBrackets: boolean): void {
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const { text } = this;
    let value = '';
    this.pos++;
    for (;;) {
      const end = text.indexOf("'", this.pos);
      if (end < 0) this.fail('unterminated single-quoted string', line, column);
      for (let i = this.pos; i < end; i++) if (text.charCodeAt(i) === LF) this.quotedNewline(i, inBrackets);
      value += text.slice(this.pos, end);
      if (text.charCodeAt(end + 1) === SQUOTE) {
        value += "'"; // '' is one '
        this.pos = end + 2;
      } else {
        this.pos = end + 1;
        break;
      }
    }
    pushLit(segs, value); // no load-time substitution: kept literal for run time
  }

  private doubleQuoted(segs: Segment[], inBrackets: boolean): void {
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const { text } = this;
    let value = '';
    let chunk = ++this.pos;
    for (;;) {
      const c = this.code();
      if (c === NONE) this.fail('unterminated double-quoted string', line, column);
      if (c === DQUOTE) {
        value += text.slice(chunk, this.pos);
        if (text.charCodeAt(this.pos + 1) !== DQUOTE) {
          this.pos++;
          break;
        }
        value += '"'; // "" is one "
        chunk = this.pos += 2;
      } else if (c === BACKSLASH) {
        value += text.slice(chunk, this.pos);
        const e = text[this.pos + 1];
        if (e === undefined) this.fail('unterminated double-quoted string', line, column);
        const simple = SIMPLE_ESCAPES[e];
        if (simple !== undefined && Object.prototype.hasOwnProperty.call(SIMPLE_ESCAPES, e)) {
          value += simple;
          this.pos += 2;
        } else if (e === 'x') {
          const high = hexValue(text.charCodeAt(this.pos + 2));
          const low = hexValue(text.charCodeAt(this.pos + 3));
          if (high < 0 || low < 0) this.fail('invalid escape sequence \\x: two hexadecimal digits expected');
          value += String.fromCharCode(high * 16 + low);
          this.pos += 4;
        } else {
          const shown = e > ' ' && e < '\x7f' ? `\\${e}` : `\\ followed by ${display(e)}`;
          this.fail(`invalid escape sequence ${shown} in double-quoted string`);
        }
        chunk = this.pos;
      } else {
        if (c === LF) this.quotedNewline(this.pos, inBrackets);
        this.pos++;
      }
    }
    scanRefs(value, false, segs);
  }

  /** The words of the rest of the line (a comment ends it). */
  words(): Word[] {
    const out: Word[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.code();
      if (c === NONE || c === LF) return out;
      if (c === HASH) {
        this.skipComment();
        return out;
      }
      out.push(this.word(NONE, false));
    }
  }
}

type Warn = ((message: string) => void) | undefined;

/** Parses k8psh.conf text to the raw configuration (syntax only, no environment needed). */
export function parseConfRaw(text: string, file: string, warn?: Warn): RawConfig {
  const lx: Lexer = new Lexer(text, file);
  const raw: RawConfig = { baseDirectory: undefined, connectTimeoutMs: undefined, sections: [] };

  // Common settings, up to the first line starting with `[`.
  for (;;) {
    lx.skipSpace();
    const c = lx.code();
    if (c === NONE || c === OPEN_BRACKET) break;
    if (c === HASH) {
      lx.skipComment();
      continue;
    }
    const start = lx.pos;
    const key = lx.word(EQUALS, false);
    const name = literalText(key.segs);
    if (name !== 'baseDirectory' && name !== 'connectTimeoutMs') {
      lx.fail(
        `unknown setting ${display(name ?? text.slice(start, lx.pos))} (expected baseDirectory or connectTimeoutMs)`,
        key.line,
        key.column,
      );
    }
    lx.skipBlanks();
    if (lx.code() !== EQUALS) lx.fail(`"=" expected after ${name}`);
    lx.pos++;
    lx.skipBlanks();
    raw[name] = lx.word(NONE, false);
    lx.endOfLine();
  }

  // Server sections.
  let section: RawSection | undefined;
  for (;;) {
    lx.skipSpace();
    const c = lx.code();
    if (c === NONE) break;
    if (c === HASH) lx.skipComment();
    else if (c === OPEN_BRACKET) {
      section = sectionHeader(lx);
      raw.sections.push(section);
    } else if (section !== undefined) {
      section.commands.push(commandLine(lx, warn));
    }
  }
  return raw;
}

/** `[ host:port ] specs... options...` */
function sectionHeader(lx: Lexer): RawSection {
  lx.pos++;
  lx.skipBlanks();
  const name = lx.word(CLOSE_BRACKET, true);
  lx.skipBlanks();
  const c = lx.code();
  if (c === LF) lx.fail('newline inside section brackets (missing "]")');
  if (c === NONE) lx.fail('missing "]" at the end of the section header');
  if (c !== CLOSE_BRACKET)
    lx.fail(`"]" expected after the section name, found ${display(lx.text[lx.pos] ?? '')}`);
  lx.pos++;
  if (name.segs.length === 0) lx.fail('empty section name', name.line, name.column);

  const split = splitAtLiteral(name.segs, ':');
  const section: RawSection = {
    name: split ? { ...name, segs: split[0] } : name,
    port: split ? { ...name, segs: split[1] } : undefined,
    environment: [],
    options: [],
    commands: [],
  };
  const words = lx.words();
  let i = 0;
  for (; i < words.length; i++) {
    const word = words[i] as Word;
    const spec = startsWithLiteral(word.segs, '--') ? undefined : parseSpec(word);
    if (spec === undefined) break;
    section.environment.push(spec);
  }
  for (; i < words.length; i++) section.options.push(words[i] as Word);
  return section;
}

/** `name [specs...] [executable [args...]]` */
function commandLine(lx: Lexer, warn: Warn): RawCommand {
  const [name, ...rest] = lx.words() as [Word, ...Word[]];
  const environment: RawSpec[] = [];
  let i = 0;
  for (; i < rest.length; i++) {
    const spec = parseSpec(rest[i] as Word);
    if (spec === undefined) break;
    environment.push(spec);
  }
  const executable = i < rest.length ? rest.slice(i) : undefined;
  if (warn && rest[0] && literalText(rest[0].segs) === '=') {
    warn(
      `${lx.file}:${name.line}:${name.column}: this line defines a command named ${display(literalText(name.segs) ?? '')}; settings must come before the first section`,
    );
  }
  return { name, environment, executable };
}

/** Parses k8psh.conf text; a relative baseDirectory is resolved against the directory of `file`. */
export function parseConf(text: string, file: string, opts: ParseOptions): Config {
  return buildConfig(parseConfRaw(text, file, opts.warn), file, opts);
}

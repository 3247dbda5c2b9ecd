/** Quoting for generated configuration text. */

/** Characters an unquoted conf string may hold whatever its context (key, section name, token). */
function isPlain(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 || // _
    c === 45 || // -
    c === 46 || // .
    c === 47 || // /
    c === 43 || // +
    c === 44 || // ,
    c === 64 || // @
    c === 37 // %
  );
}

/**
 * A k8psh.conf string that reads back as exactly `s`, with no load-time substitution: plain text
 * stays bare, anything else is single-quoted (`''` for `'`), which keeps `${...}` for run time.
 */
export function quoteConfString(s: string): string {
  let plain = s !== '';
  for (let i = 0; plain && i < s.length; i++) plain = isPlain(s.charCodeAt(i));
  return plain ? s : `'${s.replaceAll("'", "''")}'`;
}

const TOML_ESCAPES: Record<number, string> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

/**
 * A TOML basic string holding exactly `s`. TOML text is UTF-8, so a lone UTF-16 surrogate cannot
 * be written: RangeError.
 */
export function quoteTomlString(s: string): string {
  let out = '"';
  let chunk = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c >= 0xdc00 || !(d >= 0xdc00 && d <= 0xdfff)) {
        throw new RangeError(`lone UTF-16 surrogate at index ${i} cannot be written in TOML`);
      }
      i++;
      continue;
    }
    if (c >= 0x20 && c !== 0x7f && c !== 34 && c !== 92) continue;
    out += s.slice(chunk, i) + (TOML_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`);
    chunk = i + 1;
  }
  return `${out}${s.slice(chunk)}"`;
}

/**
 * `${NAME}` / `${NAME:-default}` references (docs/configuration.md, "Lexical rules" and "Env
 * specs"), shared by load time and run time.
 *
 * The grammar is the original k8psh scanner's: a name is made of letters, digits, `_ . - ( )`
 * and space; `:-` starts a default that runs to the first `}` (no nesting, no escapes). Anything
 * else after `${` leaves the `${` as literal text.
 */

/** A load-time reference; `def` is undefined for `${NAME}`. */
export interface Ref {
  name: string;
  def: string | undefined;
}

/** Literal text (a string) or a reference, in order. Adjacent literals are always merged. */
export type Segment = string | Ref;

export type Lookup = (name: string) => string | undefined;

const DOLLAR = 36;
const OPEN = 123;
const CLOSE = 125;
const COLON = 58;
const DASH = 45;

function isNameChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 46 || // .
    c === DASH ||
    c === 40 || // (
    c === 41 || // )
    c === 32 // space
  );
}

/** Appends literal text, merging it into a preceding literal so that structure checks see one run. */
export function pushLit(out: Segment[], text: string): void {
  if (text === '') return;
  const last = out.length - 1;
  const prev = out[last];
  if (typeof prev === 'string') out[last] = prev + text;
  else out.push(text);
}

/**
 * Parses the reference starting at `text[at] === '$'` (followed by `{`).
 * Returns the reference and the index after it, `-1` when the `${` is literal text, or `-2` when
 * no `}` follows at all (then no later reference can succeed either).
 */
function readRef(text: string, at: number): [Ref, number] | -1 | -2 {
  const start = at + 2;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === CLOSE) return [{ name: text.slice(start, i), def: undefined }, i + 1];
    if (c === COLON) {
      if (text.charCodeAt(i + 1) !== DASH) return -1;
      const end = text.indexOf('}', i + 2);
      if (end < 0) return -2;
      return [{ name: text.slice(start, i), def: text.slice(i + 2, end) }, end + 1];
    }
    if (!isNameChar(c)) return -1;
  }
  return -2;
}

/**
 * Splits text into literal and reference segments, appending them to `out`.
 * `dollarEscape` (TOML strings only): `$$` stands for one literal `$`, so `$${A}` is the literal
 * `${A}` kept for run time, as in docker compose files.
 */
export function scanRefs(text: string, dollarEscape: boolean, out: Segment[] = []): Segment[] {
  let lit = 0; // start of the pending literal text
  let i = 0;
  let noClose = false; // no `}` is left: no reference can succeed any more
  for (;;) {
    const d = text.indexOf('$', i);
    if (d < 0 || d + 1 >= text.length) break;
    const next = text.charCodeAt(d + 1);
    if (dollarEscape && next === DOLLAR) {
      pushLit(out, text.slice(lit, d + 1));
      lit = i = d + 2;
      continue;
    }
    if (next !== OPEN || noClose) {
      i = d + 1;
      continue;
    }
    const ref = readRef(text, d);
    if (typeof ref === 'number') {
      // Without `$$` escapes nothing after can change: stop scanning (keeps this linear).
      if (ref === -2 && !dollarEscape) break;
      noClose ||= ref === -2;
      i = d + 1;
      continue;
    }
    pushLit(out, text.slice(lit, d));
    out.push(ref[0]);
    lit = i = ref[1];
  }
  pushLit(out, text.slice(lit));
  return out;
}

/** The source form of a reference. */
export function refText(ref: Ref): string {
  return ref.def === undefined ? `\${${ref.name}}` : `\${${ref.name}:-${ref.def}}`;
}

/**
 * Resolves segments: a set variable (even empty) wins over the default; an unset one without a
 * default is the empty string, reported through `onUnset`.
 */
export function resolveSegments(
  segs: readonly Segment[],
  lookup: Lookup,
  onUnset?: (name: string) => void,
): string {
  let out = '';
  for (const seg of segs) {
    if (typeof seg === 'string') {
      out += seg;
      continue;
    }
    const value = lookup(seg.name);
    if (value !== undefined) out += value;
    else if (seg.def !== undefined) out += seg.def;
    else onUnset?.(seg.name);
  }
  return out;
}

/**
 * Replaces `${NAME}` / `${NAME:-default}` in text (the run-time substitution of
 * docs/configuration.md, "Env specs").
 */
export function substitute(text: string, lookup: Lookup): string {
  if (!text.includes('${')) return text;
  return resolveSegments(scanRefs(text, false), lookup);
}

/** A lookup into an environment object that never sees inherited properties (`constructor`...). */
export function lookupIn(env: Readonly<Record<string, string | undefined>>): Lookup {
  return (name) => {
    if (!Object.prototype.hasOwnProperty.call(env, name)) return undefined;
    const value = env[name];
    return typeof value === 'string' ? value : undefined;
  };
}

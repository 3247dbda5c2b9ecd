/**
 * Words: configuration strings before load-time substitution, with their location.
 *
 * Structure (`key=value`, `host:port`, env spec or argument) is decided on the literal text of a
 * word only, never on what a `${NAME}` expands to (as a shell does with assignments). This is what
 * makes the TOML converter exact: the same words mean the same thing in any environment.
 */
import { type Segment, pushLit, refText } from './substitute.js';

export interface Word {
  segs: Segment[];
  line: number;
  column: number;
}

/** The text of a word without references, or undefined when it has some. */
export function literalText(segs: readonly Segment[]): string | undefined {
  if (segs.length === 0) return '';
  const [first] = segs;
  return segs.length === 1 && typeof first === 'string' ? first : undefined;
}

export function startsWithLiteral(segs: readonly Segment[], prefix: string): boolean {
  const first = segs[0];
  return typeof first === 'string' && first.startsWith(prefix);
}

/** Drops the first `n` literal characters (the caller checked they are literal). */
export function dropLiteral(segs: readonly Segment[], n: number): Segment[] {
  const [first, ...rest] = segs;
  const out: Segment[] = [];
  pushLit(out, (first as string).slice(n));
  for (const seg of rest) out.push(seg);
  return out;
}

/** Splits at the first literal occurrence of `ch`, or returns undefined. */
export function splitAtLiteral(segs: readonly Segment[], ch: string): [Segment[], Segment[]] | undefined {
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (typeof seg !== 'string') continue;
    const at = seg.indexOf(ch);
    if (at < 0) continue;
    const before = segs.slice(0, i);
    pushLit(before, seg.slice(0, at));
    const after: Segment[] = [];
    pushLit(after, seg.slice(at + 1));
    for (let j = i + 1; j < segs.length; j++) after.push(segs[j] as Segment);
    return [before, after];
  }
  return undefined;
}

/**
 * The TOML-string form of segments: references as `${...}`, and a literal `$` doubled when it could
 * otherwise start `${` or `$$` (so `'${A}'` of a k8psh.conf becomes `$${A}`).
 */
export function encodeTomlText(segs: readonly Segment[]): string {
  let out = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] as Segment;
    if (typeof seg !== 'string') {
      out += refText(seg);
      continue;
    }
    const refFollows = i + 1 < segs.length; // literals are merged: what follows is a reference
    for (let j = 0; j < seg.length; j++) {
      const ch = seg[j] as string;
      out += ch;
      if (ch !== '$') continue;
      const next = j + 1 < seg.length ? seg[j + 1] : refFollows ? '$' : '';
      if (next === '$' || next === '{') out += '$';
    }
  }
  return out;
}

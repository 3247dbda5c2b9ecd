/**
 * Reading options out of a section's option words (and k8pshd's command line) without an option
 * parser: every client reads `--server-uid` and `--remote`/`--tls` this way, which must not load yargs.
 * `--name value` and `--name=value` both count; a value taken by one of `names` is not read as an
 * option itself.
 */

export interface OptionValue {
  name: string;
  /** null: the option was the last word, with no value after it. */
  value: string | null;
  /** Where the option stands in the words. */
  at: number;
}

/** Every occurrence of `names`, in order; with `stopAtDashes`, none after a `--` word. */
export function optionValues(
  words: readonly string[],
  names: readonly string[],
  stopAtDashes = false,
): OptionValue[] {
  const found: OptionValue[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const at = i;
    const name = names.find((n) => word === n || word.startsWith(`${n}=`));
    if (name === undefined) {
      if (stopAtDashes && word === '--') break;
      continue;
    }
    const value = word === name ? (words[++i] ?? null) : word.slice(name.length + 1);
    found.push({ name, value, at });
  }
  return found;
}

/**
 * The run-time side of env specs (docs/configuration.md, "Env specs"): what the client sends, what
 * the command gets.
 */
import type { CommandConfig, EnvSpec } from './model.js';
import { lookupIn, substitute } from './substitute.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The `[name, value]` pairs a client sends: its own value of each required/optional spec's
 * variable, in spec order, once per name; unset variables and inherited specs are not sent.
 */
export function clientEnvironment(command: CommandConfig, clientEnv: Environment): Array<[string, string]> {
  const lookup = lookupIn(clientEnv);
  const seen = new Set<string>();
  const out: Array<[string, string]> = [];
  for (const spec of command.environment) {
    if (spec.kind === 'inherited' || seen.has(spec.name)) continue;
    seen.add(spec.name);
    const value = lookup(spec.name);
    if (value !== undefined) out.push([spec.name, value]);
  }
  return out;
}

/**
 * The command's whole environment: exactly its specs' variables, nothing else. Defaults and
 * inherited values are substituted against the variables computed so far, then the server's.
 * A spec that yields nothing (an unset server variable) leaves the variable as it was.
 */
export function commandEnvironment(
  specs: readonly EnvSpec[],
  clientValues: ReadonlyMap<string, string>,
  serverEnv: Environment,
): Record<string, string> {
  const server = lookupIn(serverEnv);
  // No prototype: a variable may be called `__proto__` or `constructor`.
  const out = Object.create(null) as Record<string, string>;
  const computed = lookupIn(out);
  const lookup = (name: string): string | undefined => computed(name) ?? server(name);
  for (const spec of specs) {
    let value: string | undefined;
    if (spec.kind !== 'inherited') value = clientValues.get(spec.name);
    if (value === undefined) {
      // `?NAME=` and `=NAME=` take the server's own value; `NAME=` is set to the empty string.
      value =
        spec.value === '' && spec.kind !== 'required' ? server(spec.name) : substitute(spec.value, lookup);
    }
    if (value !== undefined) out[spec.name] = value;
  }
  return out;
}

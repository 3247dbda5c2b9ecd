/**
 * An environment that records what is read from it: the variables a configuration depended on at
 * load time, for the compiled table of native stubs (docs/native-stubs.md). A Proxy rather than a
 * recording lookup function, so that no way of reading (a lookup, `in`, a plain property read, a
 * future caller) escapes it. Enumeration, or any change, cannot be recorded name by name: it marks
 * the recording unusable (no table is written).
 */

export interface EnvRecording {
  /** The environment to load with: reads go through to `source`. */
  env: NodeJS.ProcessEnv;
  /** Every name read, in first-read order, with its value then (undefined: unset). */
  reads: Map<string, string | undefined>;
  /** Why the reads cannot stand for what was depended on (enumerated, written), or undefined. */
  unusable(): string | undefined;
}

export function recordEnv(source: NodeJS.ProcessEnv): EnvRecording {
  const reads = new Map<string, string | undefined>();
  let problem: string | undefined;
  const record = (name: string | symbol): void => {
    // Symbols are not variables (util.inspect and the like ask for them); names are recorded once.
    if (typeof name !== 'string' || reads.has(name)) return;
    const value = Object.prototype.hasOwnProperty.call(source, name) ? source[name] : undefined;
    reads.set(name, typeof value === 'string' ? value : undefined);
  };
  const taint = (why: string): void => {
    problem ??= why;
  };
  const env = new Proxy(source, {
    get(target, name, receiver) {
      record(name);
      return Reflect.get(target, name, receiver) as unknown;
    },
    has(target, name) {
      record(name);
      return Reflect.has(target, name);
    },
    getOwnPropertyDescriptor(target, name) {
      record(name);
      return Reflect.getOwnPropertyDescriptor(target, name);
    },
    ownKeys(target) {
      taint('the environment was enumerated');
      return Reflect.ownKeys(target);
    },
    set(target, name, value, receiver) {
      taint('the environment was written');
      return Reflect.set(target, name, value, receiver);
    },
    defineProperty(target, name, descriptor) {
      taint('the environment was written');
      return Reflect.defineProperty(target, name, descriptor);
    },
    deleteProperty(target, name) {
      taint('the environment was written');
      return Reflect.deleteProperty(target, name);
    },
  });
  return { env, reads, unusable: () => problem };
}

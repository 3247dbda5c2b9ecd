/** Loading a configuration file: k8psh.conf syntax, or TOML for `*.toml`. */
import { readFileSync } from 'node:fs';
import { ConfigFileError } from './errors.js';
import type { Config } from './model.js';
import { parseConf } from './parse.js';
import { callerEnv } from '../runtime/caller-env.js';

export interface LoadOptions {
  /** Load-time substitution environment; default the caller's (src/runtime/caller-env.ts). */
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
  /** Keep the bytes parsed (the compiled table for native stubs records them: docs/native-stubs.md). */
  keepContent?: boolean;
}

/** A loaded configuration and, when asked for (LoadOptions.keepContent), the exact bytes it came from. */
export interface Loaded {
  config: Config;
  content: Buffer | undefined;
}

/** The configuration file (SPEC A1): `--config`, else `$K8PSH_CONFIG`, else `./k8psh.conf`. */
export function configPath(explicit: string | undefined, env = callerEnv()): string {
  return explicit ?? env.K8PSH_CONFIG ?? 'k8psh.conf';
}

export function isTomlFile(file: string): boolean {
  return file.toLowerCase().endsWith('.toml');
}

/**
 * Reads and parses a configuration file. Throws ConfigFileError when it cannot be read and
 * ConfigError when it is malformed. The TOML code is only loaded for `*.toml` files: every stub
 * call comes through here.
 */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<Config> {
  return (await loadConfigFile(file, opts)).config;
}

/** loadConfig, with the file's bytes when `keepContent` (read once: the bytes are what was parsed). */
export async function loadConfigFile(file: string, opts: LoadOptions = {}): Promise<Loaded> {
  let text: string;
  let content: Buffer | undefined;
  try {
    // Synchronous on purpose: node:fs is loaded at start-up anyway, node:fs/promises (and what it
    // pulls in) would cost every stub call a few milliseconds.
    if (opts.keepContent) {
      content = readFileSync(file);
      text = content.toString('utf8'); // the same decoding as readFileSync(file, 'utf8')
    } else text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(file, error);
  }
  const parseOptions = { env: opts.env ?? callerEnv(), warn: opts.warn };
  if (isTomlFile(file)) {
    const { parseToml } = await import('./toml.js');
    return { config: parseToml(text, file, parseOptions), content };
  }
  return { config: parseConf(text, file, parseOptions), content };
}

/** How a program names its configuration: stubs take no options, only the variable. */
export const NAME_IT_WITH_OPTION = '--config FILE or $K8PSH_CONFIG';
export const NAME_IT_WITH_VARIABLE = '$K8PSH_CONFIG';

/**
 * Loads the chosen file (configPath). When nothing chose it and ./k8psh.conf is missing, the error
 * says how to name one (`how`): a new user's first failure should point at the fix.
 */
export async function loadChosenConfig(
  explicit: string | undefined,
  options: LoadOptions,
  how: string,
): Promise<Loaded & { file: string }> {
  const env = options.env ?? callerEnv();
  const file = configPath(explicit, env);
  try {
    return { file, ...(await loadConfigFile(file, options)) };
  } catch (error) {
    if (
      error instanceof ConfigFileError &&
      error.code === 'ENOENT' &&
      explicit === undefined &&
      env.K8PSH_CONFIG === undefined
    )
      throw new Error(`${error.message} (name the configuration file with ${how})`, { cause: error });
    throw error;
  }
}

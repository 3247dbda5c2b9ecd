/** Loading a configuration file: k8psh.conf syntax, or TOML for `*.toml`. */
import { readFileSync } from 'node:fs';
import { ConfigFileError } from './errors.js';
import type { Config } from './model.js';
import { parseConf } from './parse.js';
import { callerEnv } from '../runtime/caller-env.js';

export interface LoadOptions {
  /** Load-time substitution environment; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
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
  let text: string;
  try {
    // Synchronous on purpose: node:fs is loaded at start-up anyway, node:fs/promises (and what it
    // pulls in) would cost every stub call a few milliseconds.
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(file, error);
  }
  const parseOptions = { env: opts.env ?? callerEnv(), warn: opts.warn };
  if (isTomlFile(file)) {
    const { parseToml } = await import('./toml.js');
    return parseToml(text, file, parseOptions);
  }
  return parseConf(text, file, parseOptions);
}

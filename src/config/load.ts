/** Loading a configuration file: k8psh.conf syntax, or TOML for `*.toml`. */
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigFileError, UntrustedConfigError } from './errors.js';
import type { Config } from './model.js';
import { parseConf } from './parse.js';
import { type Caller, currentCaller, directoryReason, distrust, fileReason } from './trust.js';
import { callerEnv } from '../runtime/caller-env.js';
import { Switch } from '../switches.js';

export interface LoadOptions {
  /** Load-time substitution environment; default the caller's (src/runtime/caller-env.ts). */
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
  /** Keep the bytes parsed (the compiled table for native stubs records them: docs/native-stubs.md). */
  keepContent?: boolean;
  /** Refuse a file others may write (src/config/trust.ts); loadChosenConfig always asks for it. */
  trust?: Trust;
}

/** Checking who may write the file: `how` names the ways to choose another one, for the message. */
export interface Trust {
  how: string;
  caller?: Caller;
}

/** A loaded configuration and, when asked for (LoadOptions.keepContent), the exact bytes it came from. */
export interface Loaded {
  config: Config;
  content: Buffer | undefined;
}

/** The configuration file (docs/configuration.md): `--config`, else `$K8PSH_CONFIG`, else `./k8psh.conf`. */
export function configPath(explicit: string | undefined, env = callerEnv()): string {
  return explicit ?? env[Switch.CONFIG] ?? 'k8psh.conf';
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
  const bytes = readConfig(file, opts.trust);
  const text = bytes.toString('utf8'); // the same decoding as readFileSync(file, 'utf8')
  const content = opts.keepContent ? bytes : undefined;
  const parseOptions = { env: opts.env ?? callerEnv(), warn: opts.warn };
  if (isTomlFile(file)) {
    const { parseToml } = await import('./toml.js');
    return { config: parseToml(text, file, parseOptions), content };
  }
  return { config: parseConf(text, file, parseOptions), content };
}

/**
 * The file's bytes. Checked and read through one descriptor, so the file read is the file checked
 * (a symlink, as a ConfigMap's, is followed: its target is both). Synchronous on purpose: node:fs
 * is loaded at start-up anyway, node:fs/promises (and what it pulls in) would cost every stub call a
 * few milliseconds.
 */
function readConfig(file: string, trust: Trust | undefined): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new ConfigFileError(file, error);
  }
  try {
    if (trust) {
      const caller = trust.caller ?? currentCaller();
      const problem = distrust(fstatSync(fd), caller);
      if (problem) {
        const shown = resolve(file);
        throw new UntrustedConfigError(shown, fileReason(shown, problem, caller.euid, trust.how));
      }
    }
    return readFileSync(fd);
  } catch (error) {
    if (error instanceof UntrustedConfigError) throw error;
    throw new ConfigFileError(file, error);
  } finally {
    closeSync(fd);
  }
}

/** How a program names its configuration: stubs take no options, only the variable. */
export const NAME_IT_WITH_OPTION = '--config FILE or $K8PSH_CONFIG';
export const NAME_IT_WITH_VARIABLE = '$K8PSH_CONFIG';

/**
 * Loads the chosen file (configPath), refusing one that someone other than the caller or root may
 * write (src/config/trust.ts): it decides where the caller's arguments, variables and descriptors
 * go. When nothing chose it, ./k8psh.conf is also refused in a directory others may write, and a
 * missing one gets an error that says how to name one (`how`): a new user's first failure should
 * point at the fix.
 */
export async function loadChosenConfig(
  explicit: string | undefined,
  options: LoadOptions,
  how: string,
): Promise<Loaded & { file: string }> {
  const env = options.env ?? callerEnv();
  const file = configPath(explicit, env);
  const trust = { how, ...options.trust };
  const relativeDefault = explicit === undefined && env[Switch.CONFIG] === undefined;
  try {
    if (relativeDefault) checkDirectory(file, trust);
    return { file, ...(await loadConfigFile(file, { ...options, trust })) };
  } catch (error) {
    if (error instanceof ConfigFileError && error.code === 'ENOENT' && relativeDefault)
      throw new Error(`${error.message} (name the configuration file with ${how})`, { cause: error });
    throw error;
  }
}

/**
 * The current directory, for ./k8psh.conf: whoever may rename files in it chooses the file read.
 * Checked before the file is opened, so nothing in an untrusted directory is opened at all (not
 * even a FIFO planted there, which would block the open).
 */
function checkDirectory(file: string, trust: Trust): void {
  const caller = trust.caller ?? currentCaller();
  let problem;
  try {
    problem = distrust(statSync('.'), caller, true);
  } catch (error) {
    throw new ConfigFileError(file, error);
  }
  if (!problem) return;
  try {
    lstatSync(file);
  } catch (error) {
    // Nothing there: "no such file" and how to name one says more than the directory would.
    throw new ConfigFileError(file, error);
  }
  throw new UntrustedConfigError(
    `./${file}`,
    directoryReason(process.cwd(), problem, caller.euid, trust.how),
  );
}

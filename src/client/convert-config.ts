/** `k8psh --convert-config FILE`: the TOML twin of a k8psh.conf file. */
import { readFile } from 'node:fs/promises';
import { convertConfToToml } from '../config/convert.js';
import { ConfigFileError } from '../config/errors.js';
import { callerEnv } from '../runtime/caller-env.js';

export async function convertConfigFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(file, error);
  }
  return convertConfToToml(text, file, { env: callerEnv() });
}

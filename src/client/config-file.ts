/** Which configuration file (SPEC A1): `--config`, else `$K8PSH_CONFIG`, else `./k8psh.conf`. */
import { ConfigFileError } from '../config/errors.js';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/model.js';

export function configPath(explicit: string | undefined, env = process.env): string {
  return explicit ?? env.K8PSH_CONFIG ?? 'k8psh.conf';
}

/** How a program names its configuration: stubs take no options, only the variable. */
export const NAME_IT_WITH_OPTION = '--config FILE or $K8PSH_CONFIG';
export const NAME_IT_WITH_VARIABLE = '$K8PSH_CONFIG';

/**
 * Loads the chosen file. When nothing chose it and ./k8psh.conf is missing, the error says how to
 * name one (`how`): a new user's first failure should point at the fix.
 */
export async function loadChosenConfig(
  explicit: string | undefined,
  options: LoadOptions,
  how: string,
): Promise<{ file: string; config: Config }> {
  const file = configPath(explicit);
  try {
    return { file, config: await loadConfig(file, options) };
  } catch (error) {
    if (
      error instanceof ConfigFileError &&
      error.code === 'ENOENT' &&
      explicit === undefined &&
      process.env.K8PSH_CONFIG === undefined
    )
      throw new Error(`${error.message} (name the configuration file with ${how})`, { cause: error });
    throw error;
  }
}

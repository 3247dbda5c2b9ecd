/**
 * The version of k8psh.
 *
 * In the single executable, `scripts/build/bundle.mjs` replaces `__K8PSH_VERSION__` (esbuild
 * `define`) by the package version plus `git describe --always --dirty` of the build, e.g.
 * `0.1.0 (v0.1.0-3-gabc1234)`.
 * Run from the sources (tests, `tsc`), the identifier is not defined and the version is read from
 * package.json, beside `src/`.
 */
import { readFileSync } from 'node:fs';

declare const __K8PSH_VERSION__: string | undefined;

let fromSources: string | undefined;

/** The full version string, e.g. `0.1.0 (v0.1.0-3-gabc1234)` (built) or `0.1.0` (from sources). */
export function version(): string {
  if (typeof __K8PSH_VERSION__ === 'string') return __K8PSH_VERSION__;
  fromSources ??= readPackageVersion();
  return fromSources;
}

/**
 * What `--version` prints after the program name: our version and the Node runtime it runs on
 * (the embedded one in the executable, e.g. `0.1.0 (v0.1.0-3-gabc1234) node v24.22.3`).
 */
export function versionLine(): string {
  return `${version()} node ${process.version}`;
}

/** The package version alone (`0.1.0`): the first word of {@link version}. */
export function packageVersion(): string {
  return version().split(' ', 1)[0] ?? '';
}

function readPackageVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const parsed = JSON.parse(text) as { version?: unknown };
  if (typeof parsed.version !== 'string' || parsed.version === '') {
    throw new Error('package.json has no version');
  }
  return parsed.version;
}

/** The version defined into the bundle (__K8PSH_VERSION__) and printed by the build's last lines. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root } from './root.mjs';

/** `0.1.0 (v0.1.0-3-gabc1234)`, or `0.1.0` when git is missing or this is no work tree. */
export function buildVersion() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const result = spawnSync('git', ['describe', '--always', '--dirty'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const described = result.status === 0 ? result.stdout.trim() : '';
  return described ? `${pkg.version} (${described})` : pkg.version;
}

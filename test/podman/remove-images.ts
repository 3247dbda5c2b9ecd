/**
 * tap's `after` (package.json): the images the podman tests made — `localhost/k8psh-test-*`, and the
 * pause image podman builds for its Pods — are removed once every test file has run, so that a run
 * leaves no image behind. Within a run they are made once and shared by the files (./base-images.ts).
 * `rmi` without `-f`: an image a container still uses (another run's) stays.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CONTAINERS_CONF, podmanEnv } from './podman.js';

const OURS = ['localhost/k8psh-test-*', 'localhost/podman-pause'];

// No podman, or never run with our configuration: nothing was made.
if (existsSync(CONTAINERS_CONF) && spawnSync('podman', ['--version']).status === 0) {
  const images = OURS.flatMap((reference) => {
    const listed = spawnSync(
      'podman',
      ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${reference}`],
      {
        env: podmanEnv(),
        encoding: 'utf8',
        timeout: 60000,
      },
    );
    return (listed.stdout ?? '').split('\n').filter((line) => line !== '' && !line.includes('<none>'));
  });
  if (images.length > 0) spawnSync('podman', ['rmi', ...images], { env: podmanEnv(), timeout: 120000 });
}

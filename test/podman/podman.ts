/**
 * Real Pods, run by podman (issue 23; docs/pod-test.md "Real Pods"): Debian's podman 4.3 with runc
 * plays a Kubernetes Pod manifest (`podman kube play --network none`): init containers, emptyDir,
 * hostPath, configMap volumes, env, `tty: true`, one loopback-only network namespace shared by the
 * containers. Every image is made here from local files; nothing is pulled.
 *
 * API (the tests of test/podman/ code against it), in three modules: this one (podman itself),
 * ./base-images.ts (the images) and ./play.ts (manifests and played Pods):
 *
 * - `podmanUnusable(): string | false` — why podman cannot run a container here (the skip reason), or
 *   false. Checked once per process: root, podman and runc on PATH, a tiny image imported and run.
 * - `CONTAINERS_CONF` — the file every podman command here is run with (env CONTAINERS_CONF): the
 *   three settings these machines need (ulimits within the hard limits, runc: cgroups are hybrid).
 * - `podman(args, { timeoutMs, input, check })` — runs podman with that file; every call has a
 *   timeout (default 120 s); `check` (default true) throws on a non-zero exit with its stderr.
 * - Base images, each built once per content (tag = hash of what goes in, so a repeated run reuses
 *   it; a lock keeps parallel test files from building the same one twice):
 *   - `alpineImage()`: Alpine as far as k8psh can tell: busybox-static, musl's loader (its libc),
 *     a musl-linked printenv (Debian's busybox has no printenv applet), /etc/alpine-release.
 *   - `clientImage()`: a glibc root from the host's Debian packages dash + coreutils (and their
 *     dependencies): the stand-in for `ubuntu` / `debian:bookworm-slim`.
 *   - `toolsImage()`: the same plus gcc, make, binutils and libc6-dev: the stand-in for `gcc:13`.
 *   - `buildK8pshImage()`: OUR image, from the repository's Dockerfile (`podman build --target
 *     deploy`), its `bin` stage replaced by the build context `bin` = the Dockerfile's own layout
 *     step run on this checkout's dist/ (the build stage's base image cannot be pulled here).
 *   Each returns `{ tag, built, ms }`: built false when the cached image was reused (and
 *   buildK8pshImage also `buildLog`, podman build's output when it built). What each needs, as a
 *   skip reason or false: `alpineUnavailable()`, `debianUnavailable()` (client),
 *   `toolsUnavailable()`.
 * - Manifests: `podFromTemplate(job)` (a Job's or Deployment's spec.template as a Pod),
 *   `localize(object, images)` (images replaced through the map original -> local tag, `ports:`
 *   dropped, as `--network none` requires; everything else as shipped), both returning copies.
 * - `playPod(t, documents)` — writes the documents (ConfigMaps and one Pod) as YAML and runs
 *   `podman kube play --network none`; returns a `PlayedPod`. Names are made unique per play: the
 *   Pod, its volumes and the ConfigMaps get a suffix `-<id>` (podman makes each emptyDir and
 *   configMap volume a named volume, global to the machine: two Pods with a volume `k8psh-bin` would
 *   share it). `kube play` returns once the init containers have run (podman removes them then). The
 *   Pod, its containers and its volumes are removed in t.teardown, even on failure. A Pod with init
 *   containers and restartPolicy Always (the default) is played with OnFailure: podman 4.3 applies
 *   the policy to init containers too, restarts the finished one, and the play fails.
 * - `PlayedPod`: `name`, `id` (the suffix), `playMs`, `container(name)` (podman's name:
 *   `<pod>-<container>`), `volumePath(name)` (where the Pod's volume `name` is on the host),
 *   `state(c)`, `waitExit(c, ms)` (exit code), `waitLog(c, re, ms)`, `waitHealthy(c, ms)` (runs the
 *   container's healthcheck, which podman makes from the livenessProbe, until it passes: podman
 *   cannot schedule it without systemd), `logs(c)` ({ out, err }; with `tty: true` lines end in CRLF,
 *   `lines()` drops the CR), `exec(c, argv, { workdir, env, timeoutMs })`, `hostPid(c)` (PID 1 of the
 *   container as seen from here), `down()`.
 *
 * Needs root (rootful podman), podman + runc (apt-get install podman runc), tar, dpkg-query; for the
 * Alpine-like image busybox-static, musl and musl-tools.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from '../pod/pod.js';
import { run } from '../e2e/harness.js';

/** Where the harness keeps its small state: the containers.conf, the build locks. */
export const STATE = join(tmpdir(), 'k8psh-podman');

const CONF_TEXT = `# Written by test/podman/podman.ts (docs/pod-test.md, "Real Pods").
[containers]
# The hard RLIMIT_NOFILE here is 20000 and CAP_SYS_RESOURCE is missing: podman's defaults fail.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
# cgroups are hybrid v1/v2 here; crun refuses them, runc runs.
runtime = "runc"
`;

export const CONTAINERS_CONF = join(STATE, 'containers.conf');

export function writeConf(): void {
  mkdirSync(STATE, { recursive: true });
  if (existsSync(CONTAINERS_CONF) && readFileSync(CONTAINERS_CONF, 'utf8') === CONF_TEXT) return;
  const temporary = `${CONTAINERS_CONF}.${process.pid}`;
  writeFileSync(temporary, CONF_TEXT);
  renameSync(temporary, CONTAINERS_CONF);
}

export function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF };
}

export interface PodmanResult {
  code: number | null;
  out: string;
  err: string;
}

export interface PodmanOptions {
  timeoutMs?: number;
  input?: string;
  /** Throw when podman exits non-zero (default true). */
  check?: boolean;
}

/** Runs podman with our containers.conf; never hangs (SIGKILL at the timeout, then it throws). */
export async function podman(args: readonly string[], options: PodmanOptions = {}): Promise<PodmanResult> {
  writeConf();
  const { code, out, err } = await run('podman', args, {
    env: podmanEnv(),
    input: options.input ?? '',
    timeoutMs: options.timeoutMs ?? 120000,
  });
  if ((options.check ?? true) && code !== 0)
    throw new Error(`podman ${args.join(' ')} exited ${code}: ${err.trim()}`);
  return { code, out, err };
}

// ---------------------------------------------------------------------------------------------
// Can podman run here?

const PROBE_IMAGE = 'localhost/k8psh-test-probe:1';
let unusable: string | false | undefined;

/** Why podman cannot run a container on this machine, or false. Checked once per process. */
export function podmanUnusable(): string | false {
  unusable ??= probe();
  return unusable;
}

function probe(): string | false {
  if (process.platform !== 'linux') return 'podman Pods need Linux';
  if (process.getuid?.() !== 0) return 'the podman tests run rootful podman: not root';
  for (const program of ['podman', 'runc', 'tar', 'busybox'])
    if (which(program) === undefined)
      return `${program} is missing (apt-get install podman runc busybox-static)`;
  writeConf();
  const sync = (args: string[], input?: Buffer): { status: number | null; text: string } => {
    const result = spawnSync('podman', args, { env: podmanEnv(), input, timeout: 60000, encoding: 'buffer' });
    const text = `${result.stderr?.toString() ?? ''}${result.error ? ` ${result.error.message}` : ''}`.trim();
    return { status: result.status, text };
  };
  const info = sync(['info', '--format', '{{.Host.OCIRuntime.Name}}']);
  if (info.status !== 0) return `podman info fails: ${lastLine(info.text)}`;
  if (sync(['image', 'exists', PROBE_IMAGE]).status !== 0) {
    // A root holding only busybox-static: enough to start a container.
    const dir = mkdtempSync(join(tmpdir(), 'k8psh-podman-probe-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync(which('busybox')!, join(dir, 'bin/busybox'));
      chmodSync(join(dir, 'bin/busybox'), 0o755);
      const tar = spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { timeout: 30000, maxBuffer: 1 << 26 });
      const imported = sync(['import', '-q', '-', PROBE_IMAGE], tar.stdout);
      if (imported.status !== 0) return `podman import fails: ${lastLine(imported.text)}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ran = sync(['run', '--rm', '--network', 'none', PROBE_IMAGE, '/bin/busybox', 'true']);
  if (ran.status !== 0) return `podman cannot start a container: ${lastLine(ran.text)}`;
  return false;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

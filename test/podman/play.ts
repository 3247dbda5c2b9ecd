/**
 * Shipped manifests as real Pods (./podman.ts has the whole API): a workload's template as a Pod,
 * local images in place of the registry's, and `playPod`, whose `PlayedPod` is torn down in
 * t.teardown even on failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { sleep } from '../lib/net.mjs';
import { podman, type PodmanResult } from './podman.js';

type Obj = Record<string, unknown>;

interface ContainerLike {
  name: string;
  image?: string;
  ports?: unknown;
  volumeMounts?: { name: string }[];
}

interface PodSpecLike {
  containers: ContainerLike[];
  initContainers?: ContainerLike[];
  volumes?: ({ name: string; configMap?: { name: string } } & Obj)[];
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/** A Job's (or Deployment's) spec.template as a Pod named after the workload. */
export function podFromTemplate(workload: Obj): Obj {
  const metadata = workload.metadata as Obj;
  const template = (workload.spec as { template: { metadata?: Obj; spec: Obj } }).template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...copy(template.metadata ?? {}), name: metadata.name },
    spec: copy(template.spec),
  };
}

/** A copy of a Pod (or any object with a Pod spec at spec) with local images and no `ports:`. */
export function localize(pod: Obj, images: Record<string, string>): Obj {
  const result = copy(pod);
  const spec = result.spec as PodSpecLike;
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    if (c.image !== undefined) {
      const local = images[c.image];
      if (local === undefined) throw new Error(`no local image for ${c.image} (container ${c.name})`);
      c.image = local;
    }
    delete c.ports;
  }
  return result;
}

export interface ContainerState {
  status: string;
  exitCode: number;
  pid: number;
  health: string;
}

export class PlayedPod {
  /** Time `podman kube play` took (it runs the init containers to completion). */
  playMs = 0;
  private gone = false;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly file: string,
    readonly volumes: string[],
    readonly playOutput: string,
  ) {}

  /** podman's name of the Pod's container `name`. */
  container(name: string): string {
    return `${this.name}-${name}`;
  }

  async state(name: string): Promise<ContainerState> {
    const result = await podman([
      'inspect',
      '--format',
      '{{.State.Status}}\t{{.State.ExitCode}}\t{{.State.Pid}}\t{{.State.Health.Status}}',
      this.container(name),
    ]);
    const [status, exitCode, pid, health] = result.out.trim().split('\t');
    return { status: status ?? '', exitCode: Number(exitCode), pid: Number(pid), health: health ?? '' };
  }

  /** Waits for the container to exit; its exit code. */
  async waitExit(name: string, timeoutMs = 60000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.state(name);
      if (state.status === 'exited' || state.status === 'stopped') return state.exitCode;
      if (Date.now() > deadline)
        throw new Error(`${this.container(name)} still ${state.status} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Waits for a line of its output (stdout or stderr) to match. */
  async waitLog(name: string, pattern: RegExp, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { out, err } = await this.logs(name);
      if (pattern.test(out) || pattern.test(err)) return;
      const state = await this.state(name);
      if (state.status === 'exited')
        throw new Error(
          `${this.container(name)} exited (${state.exitCode}) before printing ${pattern}: ${out}${err}`,
        );
      if (Date.now() > deadline) throw new Error(`no ${pattern} from ${this.container(name)}: ${out}${err}`);
      await sleep(100);
    }
  }

  /** Runs the container's healthcheck (its livenessProbe) until it passes; the attempts made. */
  async waitHealthy(name: string, timeoutMs = 30000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (let attempts = 1; ; attempts++) {
      const result = await podman(['healthcheck', 'run', this.container(name)], { check: false, timeoutMs });
      if (result.code === 0) return attempts;
      if (Date.now() > deadline)
        throw new Error(
          `${this.container(name)} not healthy after ${timeoutMs} ms: ${result.out}${result.err}`,
        );
      await sleep(200);
    }
  }

  /** What the container wrote, stdout and stderr apart (with `tty: true` everything is stdout, CRLF). */
  async logs(name: string): Promise<{ out: string; err: string }> {
    const result = await podman(['logs', this.container(name)]);
    return { out: result.out, err: result.err };
  }

  /** Runs a command in the running container (`kubectl exec`). */
  exec(
    name: string,
    argv: readonly string[],
    options: { workdir?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
  ): Promise<PodmanResult> {
    const args = ['exec', ...(options.input !== undefined ? ['-i'] : [])];
    if (options.workdir !== undefined) args.push('--workdir', options.workdir);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push('--env', `${key}=${value}`);
    return podman([...args, this.container(name), ...argv], {
      check: false,
      timeoutMs: options.timeoutMs ?? 60000,
      input: options.input,
    });
  }

  /** Where the Pod's volume `name` (an emptyDir or configMap volume, as the manifest names it) is. */
  async volumePath(name: string): Promise<string> {
    const result = await podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', `${name}-${this.id}`]);
    return result.out.trim();
  }

  /** The host pid of the container's PID 1. */
  async hostPid(name: string): Promise<number> {
    return (await this.state(name)).pid;
  }

  /** Removes the Pod, its containers and the volumes podman made for it. */
  async down(): Promise<void> {
    if (this.gone) return;
    this.gone = true;
    await podman(['kube', 'down', this.file], { check: false, timeoutMs: 120000 });
    await podman(['pod', 'rm', '-f', '--ignore', this.name], { check: false, timeoutMs: 120000 });
    if (this.volumes.length > 0)
      await podman(['volume', 'rm', '-f', ...this.volumes], { check: false, timeoutMs: 60000 });
    rmSync(dirname(this.file), { recursive: true, force: true });
  }
}

/** CRLF (a `tty: true` container's logs) to LF, then the non-empty lines. */
export function lines(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n').filter(Boolean);
}

/**
 * Plays ConfigMaps and one Pod with `podman kube play --network none`, under unique names (see the
 * header); removed in t.teardown. Throws (after tearing down) if the play fails.
 */
export async function playPod(
  t: Test,
  documents: Obj[] | Obj,
  options: { timeoutMs?: number } = {},
): Promise<PlayedPod> {
  const id = randomBytes(3).toString('hex');
  const docs = (Array.isArray(documents) ? documents : [documents]).map((d) => copy(d));
  const pod = docs.find((d) => d.kind === 'Pod');
  if (pod === undefined) throw new Error('playPod: no Pod among the documents');
  const suffix = (name: string): string => `${name}-${id}`;
  const configMaps = new Map<string, string>();
  for (const d of docs.filter((d) => d.kind === 'ConfigMap')) {
    const metadata = d.metadata as { name: string };
    configMaps.set(metadata.name, suffix(metadata.name));
    metadata.name = suffix(metadata.name);
  }
  const podMeta = pod.metadata as { name: string };
  podMeta.name = suffix(podMeta.name);
  const spec = pod.spec as PodSpecLike & { restartPolicy?: string };
  // podman 4.3 applies the Pod's restartPolicy to its init containers too: under Always (the
  // default) a finished init container is restarted, and the play fails removing it.
  if ((spec.initContainers ?? []).length > 0 && (spec.restartPolicy ?? 'Always') === 'Always')
    spec.restartPolicy = 'OnFailure';
  const volumes: string[] = [];
  for (const volume of spec.volumes ?? []) {
    const renamed = suffix(volume.name);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers])
      for (const mount of c.volumeMounts ?? []) if (mount.name === volume.name) mount.name = renamed;
    volume.name = renamed;
    volumes.push(renamed);
    if (volume.configMap !== undefined) {
      const local = configMaps.get(volume.configMap.name);
      if (local !== undefined) volume.configMap.name = local;
      volumes.push(volume.configMap.name);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'k8psh-podman-pod-'));
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  const played = new PlayedPod(podMeta.name, id, file, volumes, '');
  t.teardown(() => played.down());
  const started = Date.now();
  const result = await podman(['kube', 'play', '--network', 'none', file], {
    check: false,
    timeoutMs: options.timeoutMs ?? 180000,
  });
  played.playMs = Date.now() - started;
  if (result.code !== 0) {
    const text = `${result.out}${result.err}`.trim();
    await played.down();
    throw new Error(`podman kube play failed (${result.code}): ${text}`);
  }
  return played;
}

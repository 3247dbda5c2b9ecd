/**
 * The Pods that Jenkins and GitLab would make from the files we ship, built the way each does it, so
 * that the schema tests validate them and the podman tests play them:
 *
 * - Jenkins (kubernetes plugin): config/k8s/jenkins-pod-template.yaml is the Pod; the plugin names it,
 *   gives the `jnlp` container its agent image and connection variables (PodTemplateBuilder) and keeps
 *   a `workspace-volume` that the YAML already declares (DefaultWorkspaceVolume).
 * - GitLab (Kubernetes executor): the runner builds a Pod with a `build` container (the job's image,
 *   its variables), a `helper` container (clone, artifacts) and one container per service (its image,
 *   entrypoint as command, command as args, the job's variables); every one of them mounts the builds
 *   volume `repo` at /builds and the volumes of config.toml; then each `pod_spec` patch is applied.
 *   The helper is left out here: in the tests a stand-in script writes the sources that its clone
 *   would.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import toml from 'toml';
import { parse as parseYaml } from 'yaml';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { loadManifests, ROOT } from './manifests.js';
import { type Json, strategicMerge } from './strategic-merge.js';

export const JENKINS_TEMPLATE = path.join(ROOT, 'config/k8s/jenkins-pod-template.yaml');
export const JENKINSFILE = path.join(ROOT, 'config/jenkins/Jenkinsfile');
export const GITLAB_CONFIG = path.join(ROOT, 'config/gitlab/config.toml');
export const GITLAB_CI = path.join(ROOT, 'config/gitlab/.gitlab-ci.yml');
/** The kubernetes plugin's agent working directory (ContainerTemplate.DEFAULT_WORKING_DIR). */
export const JENKINS_WORKDIR = '/home/jenkins/agent';
/** The Kubernetes executor's builds directory (the `repo` volume). */
export const GITLAB_BUILDS = '/builds';

export interface JenkinsOptions {
  /** The Pod's name (the plugin makes one per agent). */
  name: string;
  /** The image of `jnlp` when the template leaves it to the plugin. */
  agentImage: string;
  /** The pod template file; JENKINS_TEMPLATE unless given. */
  template?: string;
}

/** The agent Pod the kubernetes plugin would make from the pod template. */
export function jenkinsAgentPod(options: JenkinsOptions): IPod {
  const [document, ...rest] = loadManifests(options.template ?? JENKINS_TEMPLATE);
  if (document === undefined || rest.length > 0) throw new Error('the pod template is one Pod document');
  const pod = structuredClone(document.object) as unknown as IPod;
  pod.metadata = { ...pod.metadata, name: options.name };
  const spec = pod.spec;
  if (spec === undefined) throw new Error('the pod template has no spec');
  const jnlp = spec.containers.find((c) => c.name === 'jnlp');
  if (jnlp === undefined) throw new Error('the pod template has no jnlp container');
  jnlp.image ??= options.agentImage;
  // What PodTemplateBuilder adds to the agent's environment (values of a controller at jenkins:8080).
  const agentEnv = {
    JENKINS_AGENT_NAME: options.name,
    JENKINS_NAME: options.name,
    JENKINS_AGENT_WORKDIR: jnlp.workingDir ?? JENKINS_WORKDIR,
    JENKINS_URL: 'http://jenkins:8080/',
  };
  const own = new Set((jnlp.env ?? []).map((e) => e.name));
  jnlp.env = [
    ...Object.entries(agentEnv)
      .filter(([name]) => !own.has(name))
      .map(([name, value]) => ({ name, value })),
    ...(jnlp.env ?? []),
  ];
  return pod;
}

interface RunnerVolumes {
  empty_dir?: { name: string; mount_path: string; medium?: string; size_limit?: string }[];
  config_map?: { name: string; mount_path: string; read_only?: boolean }[];
}

export interface RunnerConfig {
  environment?: string[];
  kubernetes: {
    namespace?: string;
    image?: string;
    volumes?: RunnerVolumes;
    pod_spec?: { name: string; patch?: string; patch_path?: string; patch_type?: string }[];
  };
}

export interface GitlabService {
  name: string;
  alias?: string;
  entrypoint?: string[];
  command?: string[];
}

export interface GitlabJob {
  image?: string;
  services?: GitlabService[];
  variables?: Record<string, string>;
  before_script?: string[];
  script: string[];
}

/** The [[runners]] entries of config.toml. */
export function runnerConfigs(text = readFileSync(GITLAB_CONFIG, 'utf8')): RunnerConfig[] {
  const parsed = toml.parse(text) as { runners?: RunnerConfig[] };
  return parsed.runners ?? [];
}

export function gitlabJobs(text = readFileSync(GITLAB_CI, 'utf8')): Record<string, GitlabJob> {
  return parseYaml(text) as Record<string, GitlabJob>;
}

export interface GitlabOptions {
  /** The Pod's name (the runner makes one per job). */
  name: string;
  runner: RunnerConfig;
  job: GitlabJob;
  /** The build container's command: the runner's shell running the job's script. */
  buildCommand: string[];
  /** Images to use instead of the ones named (a job's image, a service's name). */
  images?: Record<string, string>;
}

/** The job Pod the Kubernetes executor would make for the job on that runner, patches applied. */
export function gitlabJobPod(options: GitlabOptions): IPod {
  const { runner, job } = options;
  const image = (name: string): string => options.images?.[name] ?? name;
  const volumes: IVolume[] = [{ name: 'repo', emptyDir: {} }];
  const mounts: IVolumeMount[] = [];
  for (const dir of runner.kubernetes.volumes?.empty_dir ?? []) {
    volumes.push({
      name: dir.name,
      emptyDir: {
        ...(dir.medium ? { medium: dir.medium } : {}),
        ...(dir.size_limit ? { sizeLimit: dir.size_limit } : {}),
      },
    });
    mounts.push({ name: dir.name, mountPath: dir.mount_path });
  }
  for (const map of runner.kubernetes.volumes?.config_map ?? []) {
    volumes.push({ name: map.name, configMap: { name: map.name } });
    mounts.push({ name: map.name, mountPath: map.mount_path, ...(map.read_only ? { readOnly: true } : {}) });
  }
  mounts.push({ name: 'repo', mountPath: GITLAB_BUILDS });

  const env = Object.entries(job.variables ?? {}).map(([name, value]) => ({ name, value: String(value) }));
  const jobImage = job.image ?? runner.kubernetes.image;
  if (jobImage === undefined) throw new Error('the job has no image and the runner no default image');
  const containers: IContainer[] = [
    {
      name: 'build',
      image: image(jobImage),
      command: options.buildCommand,
      env,
      volumeMounts: mounts.map((m) => ({ ...m })),
    },
  ];
  (job.services ?? []).forEach((service, i) => {
    containers.push({
      name:
        service.alias !== undefined && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(service.alias)
          ? service.alias
          : `svc-${i}`,
      image: image(service.name),
      ...(service.entrypoint ? { command: service.entrypoint } : {}),
      ...(service.command ? { args: service.command } : {}),
      env: env.map((e) => ({ ...e })),
      volumeMounts: mounts.map((m) => ({ ...m })),
    });
  });

  let spec = { containers, volumes } as unknown as Json;
  for (const patch of runner.kubernetes.pod_spec ?? []) {
    if (patch.patch_type !== 'strategic') throw new Error(`pod_spec ${patch.name}: only strategic is played`);
    if (patch.patch === undefined) throw new Error(`pod_spec ${patch.name}: no inline patch`);
    spec = strategicMerge(spec, parseYaml(patch.patch) as Json);
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.name },
    spec: { restartPolicy: 'Never', ...(spec as unknown as IPod['spec']) },
  } as IPod;
}

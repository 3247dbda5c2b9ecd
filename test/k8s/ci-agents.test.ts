/**
 * The CI layouts we ship: the Jenkins kubernetes-plugin pod template (config/k8s/jenkins-pod-template.yaml
 * with config/jenkins/Jenkinsfile) and the GitLab Kubernetes executor's configuration
 * (config/gitlab/config.toml with config/gitlab/.gitlab-ci.yml). The Pods each CI system would make
 * from them (test/k8s/ci-pods.ts) are valid Kubernetes (schema and strict field names) and wired so
 * that the agent's `make` is a stub that runs make in the tools container: its k8psh.conf loads with
 * the project's own loader, stubs exist on the agent's PATH before its steps run, and both containers
 * see the workspace at the base directory. test/podman/ plays them as real Pods.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import {
  GITLAB_BUILDS,
  gitlabJobPod,
  gitlabJobs,
  JENKINS_WORKDIR,
  jenkinsAgentPod,
  JENKINSFILE,
  runnerConfigs,
} from './ci-pods.js';
import {
  args,
  configOf,
  container,
  envOf,
  type Manifest,
  mountPath,
  option,
  ROOT,
  strictFieldErrors,
  validateManifest,
  workload,
} from './manifests.js';
import { strategicMerge } from './strategic-merge.js';

const IMAGE = 'ghcr.io/k8psh/k8psh-node:0.1.0';
const BIN_DIR = '/k8psh/bin';
const K8PSHD = `${BIN_DIR}/k8pshd`;
const TOOLS = ['gcc', 'g++', 'cc', 'c++', 'make', 'ld', 'as'];

function asManifest(object: unknown, file: string): Manifest {
  return { file: path.join(ROOT, file), index: 0, object: object as Record<string, unknown> };
}

/** The install init container: the k8psh image's entrypoint with --install into a memory emptyDir. */
function checkInstaller(t: Test, spec: IPodSpec): void {
  const installer = spec.initContainers?.[0];
  t.equal(installer?.image, IMAGE, 'the first init container runs the k8psh image');
  t.same(installer?.args, ['--install', K8PSHD], `it installs ${K8PSHD}`);
  t.notOk(installer?.command, 'through the image entrypoint (/bin/k8psh)');
  const mount = installer?.volumeMounts?.find((m) => m.mountPath === BIN_DIR);
  t.ok(mount && !mount.readOnly, `it writes into the volume at ${BIN_DIR}`);
  const volume = spec.volumes?.find((v) => v.name === mount?.name);
  t.equal(volume?.emptyDir?.medium, 'Memory', 'a memory-backed emptyDir');
}

/**
 * A server container: k8pshd from the installed copy, serving the tools of the config under its name.
 * `readOnly`: whether it mounts the copy read-only (GitLab's runner mounts its emptyDirs read-write).
 */
function checkTools(t: Test, spec: IPodSpec, tools: IContainer, workspace: string, readOnly: boolean): void {
  const commandLine = args(tools);
  t.equal(commandLine[0], K8PSHD, `${tools.name} runs the installed k8pshd`);
  const name = option(commandLine, '--name');
  t.equal(name, 'tools');
  const { config, warnings } = configOf(undefined, spec, tools, commandLine);
  t.same(warnings, [], 'its k8psh.conf loads without warnings');
  for (const tool of TOOLS) t.equal(config.commands.get(tool)?.host, name, `${tool} runs in ${tools.name}`);
  t.equal(config.baseDirectory, workspace, 'baseDirectory is the workspace');
  t.equal(
    mountPath(tools, volumeAt(tools, workspace)),
    workspace,
    `${tools.name} mounts the workspace there`,
  );
  const bin = tools.volumeMounts?.find((m) => m.mountPath === BIN_DIR);
  t.ok(bin, `and the installed k8psh at ${BIN_DIR}`);
  t.equal(bin?.readOnly === true, readOnly, readOnly ? 'read-only' : 'read-write, as the runner mounts it');
}

function volumeAt(c: IContainer, mount: string): string {
  return c.volumeMounts?.find((m) => m.mountPath === mount)?.name ?? '';
}

t.test('jenkins-pod-template.yaml: the agent runs `sh make`, make runs in the tools container', async (t) => {
  const spec = workload('jenkins-pod-template.yaml', 'Pod');
  t.same(
    spec.initContainers?.map((c) => c.name),
    ['k8psh', 'k8psh-stubs'],
  );
  t.same(
    spec.containers.map((c) => c.name),
    ['jnlp', 'tools'],
  );
  checkInstaller(t, spec);
  t.equal(spec.securityContext?.runAsUser, 1000, "every container runs as the agent image's jenkins user");

  const jnlp = container(spec, 'jnlp');
  t.notOk(jnlp.image, 'jnlp: no image, the plugin sets the agent image matching the controller');
  t.notOk(jnlp.command ?? jnlp.args, "jnlp: the agent image's own command");
  for (const c of [...(spec.initContainers ?? []), ...spec.containers].filter((c) => c.name !== 'jnlp'))
    t.ok(c.image, `${c.name} names its image`);
  const workspace = spec.volumes?.find((v) => v.name === 'workspace-volume');
  t.same(workspace?.emptyDir, {}, "workspace-volume: the plugin's own default, so it keeps it");
  t.equal(jnlp.workingDir, JENKINS_WORKDIR);
  t.equal(
    mountPath(jnlp, 'workspace-volume'),
    JENKINS_WORKDIR,
    'jnlp mounts the workspace where the plugin does',
  );

  // The stubs: written by an init container, before the agent starts, where the agent's PATH finds them.
  const maker = container(spec, 'k8psh-stubs');
  const makerArgs = args(maker);
  t.equal(makerArgs[0], K8PSHD, 'the stubs are made by the installed k8pshd');
  const stubs = option(makerArgs, '--executable-directory');
  t.ok(stubs, 'into a directory');
  t.equal(mountPath(maker, 'k8psh-stubs'), stubs, 'an emptyDir of the Pod');
  const { config: makerConfig, warnings } = configOf(undefined, spec, maker, makerArgs);
  t.same(warnings, []);
  t.notOk(
    makerConfig.hosts.has(option(makerArgs, '--name') ?? ''),
    'under a name without commands: k8pshd writes the stubs and exits 0',
  );
  const agentPath = envOf(jnlp).PATH?.split(':') ?? [];
  t.equal(agentPath[0], stubs, 'the stubs come first on the agent PATH');
  t.equal(mountPath(jnlp, 'k8psh-stubs'), stubs, 'jnlp mounts them at the same path');
  t.ok(agentPath.includes('/opt/java/openjdk/bin'), "followed by the agent image's PATH (its java)");
  for (const c of [maker, jnlp])
    t.equal(mountPath(c, 'k8psh-bin'), BIN_DIR, `${c.name} mounts k8psh at ${BIN_DIR}: the stubs link there`);
  const { config: agentConfig } = configOf(undefined, spec, jnlp, []);
  for (const tool of TOOLS) t.equal(agentConfig.commands.get(tool)?.host, 'tools', `a stub for ${tool}`);
  t.equal(agentConfig.baseDirectory, JENKINS_WORKDIR, "the agent's baseDirectory is its workspace mount");

  const tools = container(spec, 'tools');
  checkTools(t, spec, tools, JENKINS_WORKDIR, true);
  t.equal(envOf(tools).K8PSH_NAME, 'tools', 'K8PSH_NAME (read by the probe) is the server name');
  t.same(tools.readinessProbe?.exec?.command, [K8PSHD, '--health'], 'probed with the health check');

  const pod = jenkinsAgentPod({ name: 'k8psh-agent-x1', agentImage: 'jenkins/inbound-agent:latest-jdk21' });
  t.doesNotThrow(
    () => validateManifest(pod as unknown as Record<string, unknown>),
    'the agent Pod validates',
  );
  t.same(strictFieldErrors([asManifest(pod, 'config/k8s/jenkins-pod-template.yaml')]), []);
});

t.test('config/jenkins/Jenkinsfile: the pod template, `sh` steps, no container()', async (t) => {
  const text = readFileSync(JENKINSFILE, 'utf8');
  const code = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
  const template = /yamlFile '([^']+)'/.exec(code)?.[1];
  t.equal(template, 'config/k8s/jenkins-pod-template.yaml', 'the agent is the pod template');
  t.match(code, /^\s*sh 'make'$/m, "a plain sh 'make' step");
  t.notMatch(code, /container\s*\(/, 'no container() step');
});

t.test(
  'config/gitlab: the job Pod of the Kubernetes executor, patched, with the tools service',
  async (t) => {
    const runners = runnerConfigs();
    t.equal(runners.length, 1, 'one [[runners]] entry');
    const runner = runners[0];
    if (runner === undefined) return;
    t.ok(
      runner.environment?.includes('FF_USE_ADVANCED_POD_SPEC_CONFIGURATION=true'),
      'pod_spec patches need their feature flag',
    );
    const job = gitlabJobs().build;
    if (job === undefined) throw new Error('.gitlab-ci.yml: no build job');
    const buildCommand = ['/bin/sh', '-c', [...(job.before_script ?? []), ...job.script].join('\n')];
    const pod = gitlabJobPod({ name: 'runner-k8psh-project-1-concurrent-0', runner, job, buildCommand });
    t.doesNotThrow(
      () => validateManifest(pod as unknown as Record<string, unknown>),
      'the job Pod validates',
    );
    t.same(strictFieldErrors([asManifest(pod, 'config/gitlab/config.toml')]), []);
    const spec = pod.spec;
    if (spec === undefined) throw new Error('no spec');
    t.same(
      spec.initContainers?.map((c) => c.name),
      ['k8psh'],
      'the patch added the install init container',
    );
    checkInstaller(t, spec);
    t.same(
      spec.containers.map((c) => c.name),
      ['build', 'tools'],
      'the build container and the service, named by its alias',
    );

    const tools = container(spec, 'tools');
    t.equal(tools.image, 'gcc:13-bookworm');
    checkTools(t, spec, tools, GITLAB_BUILDS, false);

    const build = container(spec, 'build');
    const steps = job.before_script ?? [];
    const making = steps.find((line) => line.startsWith(`${K8PSHD} `))?.split(/\s+/) ?? [];
    const stubs = option(making, '--executable-directory');
    t.ok(stubs, 'before_script makes the stubs with k8pshd');
    const { config: buildConfig, warnings } = configOf(undefined, spec, build, []);
    t.same(warnings, []);
    t.notOk(buildConfig.hosts.has(option(making, '--name') ?? ''), 'under a name without commands');
    for (const tool of TOOLS) t.equal(buildConfig.commands.get(tool)?.host, 'tools', `a stub for ${tool}`);
    t.ok(
      steps.includes(`export PATH="${stubs}:$PATH"`),
      'and puts them first on PATH for the rest of the job',
    );
    t.ok(job.script.includes('make'), 'the job runs make');
    t.equal(buildConfig.baseDirectory, GITLAB_BUILDS, "the build container's baseDirectory is /builds");
    t.equal(mountPath(build, 'repo'), GITLAB_BUILDS, 'where the runner mounts the builds volume');
  },
);

t.test('the strategic merge used for pod_spec merges by key and refuses what it does not do', async (t) => {
  const base = {
    containers: [{ name: 'build', image: 'a', env: [{ name: 'X', value: '1' }] }],
    volumes: [{ name: 'repo', emptyDir: {} }],
  };
  const merged = strategicMerge(base, {
    containers: [
      { name: 'build', env: [{ name: 'Y', value: '2' }] },
      { name: 'svc', image: 'b' },
    ],
    initContainers: [{ name: 'k8psh', image: 'c' }],
    hostname: 'h',
  });
  t.same(merged, {
    containers: [
      {
        name: 'build',
        image: 'a',
        env: [
          { name: 'X', value: '1' },
          { name: 'Y', value: '2' },
        ],
      },
      { name: 'svc', image: 'b' },
    ],
    volumes: [{ name: 'repo', emptyDir: {} }],
    initContainers: [{ name: 'k8psh', image: 'c' }],
    hostname: 'h',
  });
  t.same(
    strategicMerge({ volumes: [{ name: 'v' }], a: 1 }, { a: null }),
    { volumes: [{ name: 'v' }] },
    'null deletes',
  );
  t.throws(
    () => strategicMerge(base, { containers: [{ name: 'build', $patch: 'delete' }] }),
    /not implemented/,
  );
});

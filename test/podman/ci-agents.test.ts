/**
 * The CI layouts, played as real Pods (issue 23, item 4): the Pod the Jenkins kubernetes plugin makes
 * from config/k8s/jenkins-pod-template.yaml and the job Pod GitLab's Kubernetes executor makes from
 * config/gitlab/ (test/k8s/ci-pods.ts builds both), with local images (our image from the Dockerfile;
 * `gcc:13-bookworm` by Debian's gcc and make; the agent and job images by a glibc root with a shell
 * and coreutils, no compiler) and a stand-in for the agent's work: the agent container runs a script
 * that writes a small C project into the workspace, as a checkout would, and runs `make` there the way
 * a `sh 'make'` step (`sh -xe`) or a GitLab `script:` line does. make, found on PATH, is a k8psh stub;
 * make and the compiler run in the tools container. Checked: the objects and the program, their owner,
 * the stubs; timed (test comments): the step through the stub, and 20 no-op `make` steps through the
 * stub against 20 `podman exec` into the tools container, the local twin of what `container('tools')
 * { sh 'make' }` does per step through the Kubernetes API (docs/replacing-container.md).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { gitlabJobPod, gitlabJobs, JENKINS_WORKDIR, jenkinsAgentPod, runnerConfigs } from '../k8s/ci-pods.js';
import { loadManifests, MANIFEST_DIR, ROOT } from '../k8s/manifests.js';
import { buildK8pshImage, clientImage, toolsImage, toolsUnavailable } from './base-images.js';
import { lines, localize, playPod } from './play.js';
import { podmanUnusable } from './podman.js';
import { GREETING, PRODUCTS, timed, timing, writeProject } from './workload.js';

const IMAGE = 'ghcr.io/k8psh/k8psh-node:0.1.0';
const STEPS = 20;

const skip =
  podmanUnusable() ||
  toolsUnavailable() ||
  (!existsSync(path.join(ROOT, 'dist/k8psh')) && 'dist/k8psh is not built (npm run build)');

function configMap(file: string): Record<string, unknown> {
  const [map] = loadManifests(path.join(MANIFEST_DIR, file));
  if (map?.object.kind !== 'ConfigMap') throw new Error(`${file}: not a ConfigMap`);
  return map.object;
}

/** sh lines that check the products of the build: there, owned by `uid`, the program's greeting. */
function checkProducts(uid: number): string[] {
  return [
    `for f in ${PRODUCTS.join(' ')}; do test "$(stat -c %u "$f")" = ${uid} || { echo "$f: not owned by ${uid}"; exit 1; }; done`,
    './hello',
  ];
}

/** `command` run STEPS times in `dir`, timed inside the container: sh lines printing `label N`. */
function steps(label: string, dir: string, command: string): string {
  return [
    'set -eu',
    `cd '${dir}'`,
    ...timed(label, `i=0; while [ $i -lt ${STEPS} ]; do ${command} >/dev/null 2>&1; i=$((i + 1)); done`),
  ].join('\n');
}

t.test(
  "Jenkins: the agent's `sh 'make'` runs make in the tools container, no container() step",
  { skip, timeout: 900000 },
  async (t) => {
    const [k8psh, tools, client] = await Promise.all([buildK8pshImage(), toolsImage(), clientImage()]);
    const pod = jenkinsAgentPod({ name: 'k8psh-jenkins-agent', agentImage: client.tag }) as unknown as Record<
      string,
      unknown
    >;
    const workspace = `${JENKINS_WORKDIR}/workspace/demo`;
    const spec = pod.spec as { containers: { name: string; command?: string[] }[] };
    const jnlp = spec.containers.find((c) => c.name === 'jnlp');
    if (jnlp === undefined) throw new Error('no jnlp');
    // The agent's work instead of the agent: the checkout, then what `sh 'make'` runs.
    jnlp.command = [
      '/bin/sh',
      '-c',
      [
        'set -eu',
        ...writeProject(workspace),
        `cd '${workspace}'`,
        'echo "make is $(command -v make)"',
        ...timed('step', 'sh -xe -c make'),
        ...checkProducts(1000),
        'echo AGENT-DONE',
        'exec sleep 600',
      ].join('\n'),
    ];
    const local = localize(pod, {
      [IMAGE]: k8psh.tag,
      'gcc:13-bookworm': tools.tag,
      [client.tag]: client.tag,
    });
    const played = await playPod(t, [configMap('jenkins-k8psh-config.yaml'), local]);
    await played.waitLog('jnlp', /AGENT-DONE/, 180000);
    const out = (await played.logs('jnlp')).out;
    t.ok(lines(out).includes('make is /k8psh/stubs/make'), 'make on the agent PATH is the stub');
    t.ok(lines(out).includes(GREETING), 'the program built by the step runs');
    t.pass('the objects and the program belong to uid 1000, the agent (checked in the container)');
    const link = await played.exec('jnlp', ['readlink', '/k8psh/stubs/make']);
    t.equal(
      link.out.trim(),
      '/k8psh/bin/k8pshd',
      'the stub, made by the init container, links to the installed k8pshd',
    );
    const own = await played.exec('jnlp', ['sh', '-c', 'ls /usr/bin/make /usr/bin/gcc /usr/bin/cc']);
    t.not(own.code, 0, 'the agent image has no make and no compiler of its own');
    // podman runs no readiness probe: run its command as the kubelet would.
    const probe = await played.exec('tools', ['/k8psh/bin/k8pshd', '--health']);
    t.equal(probe.code, 0, "the tools container's readiness probe passes");

    const stub = await played.exec('jnlp', ['sh', '-c', steps('stub-steps', workspace, 'sh -xe -c make')], {
      timeoutMs: 120000,
    });
    t.equal(stub.code, 0, `${STEPS} no-op make steps through the stub`);
    const started = Date.now();
    for (let i = 0; i < STEPS; i++) {
      const step = await played.exec('tools', ['sh', '-xe', '-c', 'make'], { workdir: workspace });
      if (step.code !== 0) throw new Error(`podman exec make: ${step.out}${step.err}`);
    }
    const execMs = Date.now() - started;
    t.comment(
      `Jenkins agent Pod: play ${played.playMs} ms; the make step through the stub ${timing(out, 'step').toFixed(0)} ms; ` +
        `${STEPS} no-op make steps: through the stub ${timing(stub.out, 'stub-steps').toFixed(0)} ms, ` +
        `${STEPS} podman exec into the tools container ${execMs} ms`,
    );
  },
);

t.test(
  'GitLab: the job runs make through the stubs, make runs in the tools service',
  { skip, timeout: 900000 },
  async (t) => {
    const [k8psh, tools, client] = await Promise.all([buildK8pshImage(), toolsImage(), clientImage()]);
    const [runner] = runnerConfigs();
    const job = gitlabJobs().build;
    if (runner === undefined || job === undefined) throw new Error('no runner or no build job');
    const project = '/builds/group/project';
    // The runner's shell runs before_script and script in $CI_PROJECT_DIR, where the helper has cloned
    // the repository: here a stand-in writes the sources.
    const buildCommand = [
      '/bin/sh',
      '-c',
      [
        'set -eu',
        ...writeProject(project),
        `cd '${project}'`,
        ...(job.before_script ?? []),
        'echo "make is $(command -v make)"',
        ...timed('script', job.script.join('\n')),
        ...checkProducts(0),
        'echo JOB-DONE',
      ].join('\n'),
    ];
    const pod = gitlabJobPod({
      name: 'runner-k8psh-project-1-concurrent-0',
      runner,
      job,
      buildCommand,
      images: { 'debian:bookworm-slim': client.tag, 'gcc:13-bookworm': tools.tag },
    }) as unknown as Record<string, unknown>;
    const local = localize(pod, { [IMAGE]: k8psh.tag, [client.tag]: client.tag, [tools.tag]: tools.tag });
    const played = await playPod(t, [configMap('gitlab-k8psh-config.yaml'), local]);
    const code = await played.waitExit('build', 180000);
    const { out, err } = await played.logs('build');
    t.equal(code, 0, `the job succeeds${code === 0 ? '' : `: ${out}${err}`}`);
    t.ok(lines(out).includes('make is /tmp/k8psh-stubs/make'), 'make on the job PATH is the stub');
    t.ok(lines(out).includes(GREETING), 'the program built by the job runs');
    t.ok(lines(out).includes('JOB-DONE'), 'to its end');
    const own = await played.exec('tools', [
      'ls',
      `${project}/main.o`,
      `${project}/greet.o`,
      `${project}/hello`,
    ]);
    t.equal(own.code, 0, 'the service sees the objects in the same /builds');
    t.comment(
      `GitLab job Pod: play ${played.playMs} ms; the job's script (make) ${timing(out, 'script').toFixed(0)} ms`,
    );
  },
);

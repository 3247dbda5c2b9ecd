/**
 * config/k8s/*.yaml: every document is valid Kubernetes (schema + strict field names), and the Pods
 * are wired the way k8psh needs: the binary installed by the init container into a memory emptyDir
 * (or, in build-pod-image-volume.yaml, the image itself mounted as a volume), servers started with the
 * right name, their k8psh.conf (from a ConfigMap) loading with the project's own loader, and the
 * clients' stubs existing for what they run. No cluster is involved. The CI agents' Pods
 * (jenkins-pod-template.yaml, config/gitlab) have their own checks in ci-agents.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseConf } from '../../src/config/parse.js';
import {
  allContainers,
  allManifests,
  args,
  bytes,
  checkResources,
  configOf,
  container,
  envOf,
  type Manifest,
  MANIFEST_DIR,
  manifestFiles,
  manifestsOf,
  mountPath,
  option,
  parseManifests,
  podSpecOf,
  ROOT,
  script,
  strictFieldErrors,
  validateManifest,
  workload,
} from './manifests.js';

/** Placeholder for the image built with ./Dockerfile (docs/kubernetes.md). */
const IMAGE = 'ghcr.io/k8psh/k8psh-node:0.1.0';
const BIN_VOLUME = 'k8psh-bin';
const BIN_DIR = '/k8psh/bin';
const K8PSHD = `${BIN_DIR}/k8pshd`;
/** What `k8psh --install` writes into the emptyDir at most (issue 13; docs/kubernetes.md). */
const INSTALLED_MAX = 120 * 2 ** 20;

const files = manifestFiles();
const manifests = allManifests();

/** An image reference without its tag or digest: `alpine:3.22` is `alpine`. */
function imageName(image: string | undefined): string {
  return (image ?? '').replace(/@.*$/, '').replace(/:[^/]*$/, '');
}

t.test('config/k8s holds the test Job, the build-tools Pods and the CI agents', async (t) => {
  const kinds: Record<string, string[]> = {
    'build-pod-image-volume.yaml': ['ConfigMap', 'Pod'],
    'build-pod.yaml': ['ConfigMap', 'Pod'],
    'gitlab-k8psh-config.yaml': ['ConfigMap'],
    'jenkins-k8psh-config.yaml': ['ConfigMap'],
    // One Pod alone: the plugin reads the file as one Pod (yamlFile, yaml: readTrusted(...)).
    'jenkins-pod-template.yaml': ['Pod'],
    'test-job.yaml': ['ConfigMap', 'Job'],
  };
  t.same(
    files.map((f) => path.basename(f)),
    Object.keys(kinds),
  );
  for (const [name, expected] of Object.entries(kinds)) {
    t.same(
      manifestsOf(name).map((m) => m.object.kind),
      expected,
      name,
    );
  }
});

t.test('every document validates against the Kubernetes schema', async (t) => {
  for (const m of manifests) {
    t.doesNotThrow(
      () => validateManifest(m.object),
      `${path.relative(ROOT, m.file)}#${m.index} (${String(m.object.kind)})`,
    );
  }
});

t.test('every document uses known field names and types only (strict, like kubectl apply)', async (t) => {
  t.same(strictFieldErrors(manifests), []);
});

t.test('the checks reject broken manifests', async (t) => {
  const job = manifestsOf('test-job.yaml').find((m) => m.object.kind === 'Job');
  if (job === undefined) throw new Error('no Job');
  const broken = (edit: (spec: IPodSpec) => void): Manifest => {
    const object = structuredClone(job.object);
    edit(podSpecOf(object));
    return { ...job, object };
  };

  const unnamed = broken((spec) => {
    delete (spec.containers[0] as Partial<IContainer>).name;
  });
  t.throws(() => validateManifest(unnamed.object), /name/, 'a container without a name');

  const badPort = broken((spec) => {
    (spec.containers[0]?.ports?.[0] as { containerPort: unknown }).containerPort = 'k8psh';
  });
  t.throws(() => validateManifest(badPort.object), 'a port that is not a number');

  t.throws(() => validateManifest({ apiVersion: 'v1', kind: 'Service' }), /no model/, 'an unexpected kind');

  const typo = broken((spec) => {
    const server = spec.containers[0] as IContainer & { volumeMount?: unknown };
    server.volumeMount = server.volumeMounts;
    delete server.volumeMounts;
  });
  t.doesNotThrow(() => validateManifest(typo.object), 'the schema alone lets an unknown field through...');
  const errors = strictFieldErrors([typo]);
  t.equal(errors.length, 1, '...the strict check does not');
  t.match(errors[0], /test-job\.yaml#1: .*'"?volumeMount"?' does not exist/);

  t.throws(() => parseManifests('a: 1\na: 2\n', 'dup.yaml'), /dup\.yaml document 0/, 'a duplicate key');
});

/** What both workloads share: the init container installs the binary for the others. */
function checkInstall(t: Test, spec: IPodSpec): void {
  const init = spec.initContainers ?? [];
  t.equal(init.length, 1, 'one init container');
  const installer = init[0];
  if (installer === undefined) return;
  t.equal(installer.image, IMAGE, 'the init container runs the k8psh image');
  t.same(installer.args, ['--install', K8PSHD], 'it runs k8psh --install /k8psh/bin/k8pshd');
  t.notOk(installer.command, 'through the image entrypoint (/bin/k8psh)');
  const installMount = installer.volumeMounts?.find((m) => m.name === BIN_VOLUME);
  t.equal(installMount?.mountPath, BIN_DIR);
  t.notOk(installMount?.readOnly, 'writable for the installer');

  const volume = spec.volumes?.find((v) => v.name === BIN_VOLUME);
  t.equal(volume?.emptyDir?.medium, 'Memory', 'the binary lives in a memory-backed emptyDir');
  const sizeLimit = volume?.emptyDir?.sizeLimit;
  if (sizeLimit !== undefined) {
    t.ok(
      bytes(sizeLimit) >= INSTALLED_MAX * 1.25,
      `sizeLimit ${sizeLimit} leaves room for the installed files`,
    );
  }
  const installerMemory = installer.resources?.limits?.memory;
  if (installerMemory !== undefined) {
    t.ok(bytes(installerMemory) >= INSTALLED_MAX + 64 * 2 ** 20, 'the installer may hold the copy in memory');
  }

  for (const c of spec.containers) {
    const mount = c.volumeMounts?.find((m) => m.name === BIN_VOLUME);
    t.equal(mount?.mountPath, BIN_DIR, `${c.name} mounts the binary at ${BIN_DIR}`);
    t.equal(mount?.readOnly, true, `${c.name} mounts it read-only`);
  }
}

/** The original k8psh's test Job (test/k8s/test.yaml there): its images and container commands. */
const ORIGINAL = {
  serverImage: 'alpine',
  clientImage: 'ubuntu',
  server:
    '/k8psh/bin/k8pshd --config=/workspace-server/test/config/k8s.conf --name=server --max-connections=3',
  client:
    'BINDIR=$(mktemp -d); cd /workspace/test && k8pshd --executable-directory=$BINDIR && uname -a && printenv K8PSH_TEST && pwd && $BINDIR/uname -a && $BINDIR/printenv K8PSH_TEST && $BINDIR/pwd',
  /** Its test/config/k8s.conf. */
  config: 'baseDirectory = ../..\n\n[server] =K8PSH_TEST=\nprintenv\npwd\nuname\n',
};

t.test('test-job.yaml: the original end-to-end test, its images and commands verbatim', async (t) => {
  const spec = workload('test-job.yaml', 'Job');
  t.equal(spec.restartPolicy, 'Never');
  checkInstall(t, spec);
  t.same(
    spec.containers.map((c) => c.name),
    ['server', 'client'],
  );

  const server = container(spec, 'server');
  const client = container(spec, 'client');
  t.equal(imageName(server.image), ORIGINAL.serverImage, 'the server runs on Alpine (musl, busybox)');
  t.equal(imageName(client.image), ORIGINAL.clientImage, 'the client runs on Ubuntu (glibc)');
  t.equal(script(server), ORIGINAL.server, "the server's command is the original's");
  t.equal(script(client), ORIGINAL.client, "the client's command is the original's");
  const map = manifestsOf('test-job.yaml').find((m) => m.object.kind === 'ConfigMap');
  t.equal((map?.object.data as Record<string, string>)['k8s.conf'], ORIGINAL.config, 'and its k8s.conf');

  const serverArgs = script(server).split(/\s+/);
  t.equal(serverArgs[0], K8PSHD, 'the server runs the installed k8pshd');
  t.equal(option(serverArgs, '--name'), 'server');
  const maxConnections = Number(option(serverArgs, '--max-connections'));
  t.equal(maxConnections, 3);

  const { config: serverConfig, warnings: serverWarnings } = configOf(
    'test-job.yaml',
    spec,
    server,
    serverArgs,
  );
  t.same(serverWarnings, [], 'the server config loads without warnings');
  const host = serverConfig.hosts.get('server');
  t.ok(host, 'the config has commands for the server name');
  t.equal(host?.port, server.ports?.[0]?.containerPort, 'at the port the container declares');
  const served = [...serverConfig.commands.values()].filter((c) => c.host === 'server').map((c) => c.name);
  t.same(served.sort(), ['printenv', 'pwd', 'uname']);
  t.same(
    serverConfig.commands.get('printenv')?.environment,
    [{ kind: 'inherited', name: 'K8PSH_TEST', value: '' }],
    "=K8PSH_TEST= hands the server's own K8PSH_TEST to the commands",
  );
  t.equal(
    serverConfig.baseDirectory,
    mountPath(server, 'workspace'),
    "baseDirectory (../.. from the config) is the server's workspace mount",
  );

  const text = script(client);
  const env = envOf(client);
  const steps = text.split(/\s*(?:&&|;)\s*/);
  t.ok(steps.includes('k8pshd --executable-directory=$BINDIR'), 'the client makes its stubs with k8pshd');
  t.ok(env.PATH?.split(':').includes(BIN_DIR), 'k8pshd is on the client PATH');
  const { config: clientConfig, warnings: clientWarnings } = configOf('test-job.yaml', spec, client, []);
  t.same(clientWarnings, [], 'the client config loads without warnings');
  t.notOk(
    clientConfig.hosts.has(env.K8PSH_NAME ?? 'client'),
    "the client's name (its hostname) has no commands: k8pshd only makes stubs",
  );
  t.equal(
    clientConfig.baseDirectory,
    mountPath(client, 'workspace'),
    "baseDirectory is the client's workspace mount",
  );

  const viaStubs = [...text.matchAll(/\$BINDIR\/([\w.+-]+)/g)].map((m) => m[1] ?? '');
  t.same(viaStubs, ['uname', 'printenv', 'pwd'], 'the client runs uname, printenv, pwd through the stubs');
  for (const name of viaStubs) {
    t.equal(clientConfig.commands.get(name)?.host, 'server', `a stub for ${name} runs it on the server`);
    t.ok(
      steps.some((step) => step.startsWith(`${name} `) || step === name),
      `and ${name} also runs locally`,
    );
  }
  t.equal(
    viaStubs.length,
    maxConnections,
    'the server exits after exactly the client connections: the Job completes',
  );
});

/**
 * build-pod.yaml and its image-volume variant: compilers in one container, the build in a slim one,
 * k8psh started from `binDir` (the init container's copy, or the image volume).
 */
function checkBuildPod(t: Test, file: string, binDir: string): IPodSpec {
  const k8pshd = `${binDir}/k8pshd`;
  const spec = workload(file, 'Pod');
  t.same(
    spec.containers.map((c) => c.name),
    ['compiler', 'builder'],
  );

  checkResources(t, allContainers(spec));

  const compiler = container(spec, 'compiler');
  const compilerArgs = args(compiler);
  const compilerEnv = envOf(compiler);
  t.equal(compilerArgs[0], k8pshd);
  t.equal(compiler.image, 'gcc:13-bookworm');
  const name = option(compilerArgs, '--name');
  t.equal(name, 'compiler');
  t.equal(compilerEnv.K8PSH_NAME, name, 'K8PSH_NAME (read by the probes) is the server name');
  t.equal(
    compilerEnv.K8PSH_CONFIG,
    option(compilerArgs, '--config'),
    'K8PSH_CONFIG (read by the probes) is its config',
  );
  for (const probe of [compiler.readinessProbe, compiler.livenessProbe]) {
    t.same(probe?.exec?.command, [k8pshd, '--health'], 'probed with the health check');
  }

  const { config: compilerConfig, warnings: compilerWarnings } = configOf(file, spec, compiler);
  t.same(compilerWarnings, []);
  const host = compilerConfig.hosts.get(name ?? '');
  t.ok(host, 'the config has commands for the server name');
  t.equal(host?.port, compiler.ports?.[0]?.containerPort, 'at the port the container declares');
  const tools = ['gcc', 'g++', 'cc', 'c++', 'make', 'ld', 'as'];
  for (const tool of tools) {
    t.equal(compilerConfig.commands.get(tool)?.host, name, `${tool} runs in the compiler container`);
  }
  t.ok(
    host?.environment.some((e) => e.kind === 'inherited' && e.name === 'PATH' && e.value === ''),
    "=PATH=: the tools run with the compiler container's PATH (/usr/local/bin)",
  );

  const builder = container(spec, 'builder');
  const builderEnv = envOf(builder);
  const text = script(builder);
  t.equal(builder.image, 'debian:bookworm-slim');
  const stubs = builderEnv.K8PSH_STUBS;
  t.ok(stubs);
  t.match(
    text,
    /^k8pshd --name=builder --executable-directory="\$K8PSH_STUBS"/m,
    'the builder makes its stubs',
  );
  t.equal(builderEnv.PATH?.split(':')[0], stubs, 'the stubs come first on PATH');
  t.ok(builderEnv.PATH?.split(':').includes(binDir), 'k8pshd is on the builder PATH');
  const { config: builderConfig, warnings: builderWarnings } = configOf(file, spec, builder);
  t.same(builderWarnings, []);
  t.notOk(builderConfig.hosts.has('builder'), 'the builder name has no commands: k8pshd only makes stubs');
  for (const tool of ['make', 'gcc']) {
    t.match(text, new RegExp(`^${tool} `, 'm'), `the builder runs ${tool}`);
    t.equal(
      builderConfig.commands.get(tool)?.host,
      'compiler',
      `and its stub runs it in the compiler container`,
    );
  }
  t.ok(builderConfig.connectTimeoutMs >= 60000, 'stubs wait for a compiler container that starts late');

  // The shared workspace is mounted at different paths; each container's baseDirectory is its own mount.
  const compilerWorkspace = mountPath(compiler, 'workspace');
  const builderWorkspace = mountPath(builder, 'workspace');
  t.not(compilerWorkspace, builderWorkspace, 'the workspace is mounted at different paths');
  t.equal(compilerConfig.baseDirectory, compilerWorkspace);
  t.equal(builderConfig.baseDirectory, builderWorkspace);
  t.equal(builder.workingDir, builderWorkspace);
  return spec;
}

t.test('build-pod.yaml: compilers in one container, the build in a slim one', async (t) => {
  const spec = checkBuildPod(t, 'build-pod.yaml', BIN_DIR);
  checkInstall(t, spec);
});

/** Where build-pod-image-volume.yaml mounts the image: not /k8psh, the init-container layout's path. */
const IMAGE_MOUNT = '/opt/k8psh';

t.test(
  'build-pod-image-volume.yaml: the image itself, mounted read-only; no init container, no copy',
  async (t) => {
    const spec = checkBuildPod(t, 'build-pod-image-volume.yaml', `${IMAGE_MOUNT}/bin`);
    t.same(spec.initContainers ?? [], [], 'no init container');
    t.notOk(
      spec.volumes?.some((v) => v.emptyDir?.medium === 'Memory'),
      'no memory-backed emptyDir',
    );
    const imageVolumes = spec.volumes?.filter((v) => v.image !== undefined) ?? [];
    t.equal(imageVolumes.length, 1, 'one image volume');
    const volume = imageVolumes[0];
    // The schema leaves `reference` optional (for workload controllers that fill it in); a Pod needs it.
    t.same(
      volume?.image,
      { reference: IMAGE, pullPolicy: 'IfNotPresent' },
      "the k8psh image, pulled like the containers' images",
    );
    for (const c of spec.containers) {
      const mount = c.volumeMounts?.find((m) => m.name === volume?.name);
      t.equal(mount?.mountPath, IMAGE_MOUNT, `${c.name} mounts the image's root at ${IMAGE_MOUNT}`);
      t.not(mount?.mountPath, BIN_DIR.replace(/\/bin$/, ''), 'not at /k8psh');
      t.equal(mount?.readOnly, true, `${c.name} mounts it read-only`);
      t.notOk(mount?.subPath, 'the whole image (subPath needs Kubernetes 1.33 and a runtime that has it)');
    }
    const stubs = envOf(container(spec, 'builder')).K8PSH_STUBS ?? '';
    t.notOk(
      stubs === IMAGE_MOUNT || stubs.startsWith(`${IMAGE_MOUNT}/`),
      `stubs (${stubs}) are written outside the read-only image volume`,
    );

    // Otherwise the very Pod of build-pod.yaml: the same containers, commands, scripts, probes and
    // resources once the paths are mapped, and the same k8psh.conf (the two cannot drift apart).
    const copy = structuredClone(workload('build-pod.yaml', 'Pod'));
    const mapped = JSON.stringify(copy.containers)
      .replaceAll('"mountPath":"/k8psh/bin"', `"mountPath":"${IMAGE_MOUNT}"`)
      .replaceAll('/opt/k8psh/stubs', '/opt/k8psh-stubs')
      .replaceAll('/k8psh/bin', `${IMAGE_MOUNT}/bin`)
      .replaceAll('"k8psh-bin"', `"${volume?.name}"`)
      .replaceAll('k8psh-build-tools', 'k8psh-build-tools-image-volume');
    t.same(spec.containers, JSON.parse(mapped), 'the containers of build-pod.yaml, paths mapped');
    const conf = (file: string): string | undefined =>
      (manifestsOf(file).find((m) => m.object.kind === 'ConfigMap')?.object.data as Record<string, string>)[
        'k8psh.conf'
      ];
    t.equal(conf('build-pod-image-volume.yaml'), conf('build-pod.yaml'), 'the same k8psh.conf');
  },
);

t.test('the schema knows image volumes (kubernetes-models 4.5.1: ImageVolumeSource)', async (t) => {
  const pod = manifestsOf('build-pod-image-volume.yaml').find((m) => m.object.kind === 'Pod');
  if (pod === undefined) throw new Error('no Pod');
  const edited = (edit: (image: Record<string, unknown>) => void): Manifest => {
    const object = structuredClone(pod.object);
    const volume = podSpecOf(object).volumes?.find((v) => v.image !== undefined);
    if (volume?.image === undefined) throw new Error('no image volume');
    edit(volume.image as Record<string, unknown>);
    return { ...pod, object };
  };
  t.throws(
    () => validateManifest(edited((image) => (image.pullPolicy = 'Sometimes')).object),
    /pullPolicy/,
    'a pull policy that does not exist',
  );
  t.throws(
    () => validateManifest(edited((image) => (image.reference = 5)).object),
    /reference/,
    'a reference that is not a string',
  );
  const typo = edited((image) => {
    image.refrence = image.reference;
    delete image.reference;
  });
  t.doesNotThrow(() => validateManifest(typo.object), 'the schema alone lets a misspelt field through...');
  const errors = strictFieldErrors([typo]);
  t.equal(errors.length, 1, '...the strict check does not');
  t.match(errors[0], /'"?refrence"?' does not exist/);
});

t.test('the k8psh.conf files reject what they should (the loader is really used)', async (t) => {
  t.throws(() =>
    parseConf('baseDirectory = /w\nbogusKey = 1\n[ server ]\npwd\n', path.join(MANIFEST_DIR, 'x.conf'), {
      env: {},
    }),
  );
  t.throws(() => parseConf('[ server:99999 ]\npwd\n', 'x.conf', { env: {} }));
});

t.test('the manifests are read from disk as committed', async (t) => {
  // Guards the loader above against silently reading nothing (e.g. a renamed directory).
  for (const file of files) t.ok(readFileSync(file, 'utf8').includes('k8psh'), path.basename(file));
});

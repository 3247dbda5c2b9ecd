/**
 * config/k8s/remote/: tools on other nodes (docs/remote-kubernetes.md). Every document is valid
 * (kubernetes-models' schema and strict field names; cert-manager's Issuer and Certificate against
 * ./cert-manager.ts), and the pieces fit: the k8psh.conf of the ConfigMap loads with the project's
 * own parser and its [ tools ] section says --listen, --tls, --remote and --allow-identity; the tools
 * Deployment and the build Pod's gateway mount the Secrets that cert-manager writes at the --tls
 * path, with the certificates each side needs; the Service reaches the Deployment's Pods at the port
 * --remote names; the workspace is one ReadWriteMany claim mounted at different paths, each
 * container's base directory its own mount; the build container finds the gateway's stubs first on
 * its PATH. No cluster is involved.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec';
import type { Config } from '../../src/config/model.js';
import type { ICertificateSpec, IIssuerSpec } from './cert-manager.js';
import { goDurationSeconds, validateCertManager } from './cert-manager.js';
import {
  allContainers,
  args,
  bytes,
  checkResources,
  configIn,
  container,
  envOf,
  loadManifests,
  type Manifest,
  MANIFEST_DIR,
  mountPath,
  option,
  podSpecOf,
  ROOT,
  script,
  strictFieldErrors,
  validateManifest,
} from './manifests.js';
import { REMOTE_MODELS } from './workload-models.js';

const REMOTE_DIR = path.join(MANIFEST_DIR, 'remote');
const IMAGE = 'ghcr.io/k8psh/k8psh-node:0.1.0';
const BIN_DIR = '/k8psh/bin';
const K8PSHD = `${BIN_DIR}/k8pshd`;
const TOOLS = ['gcc', 'g++', 'cc', 'c++', 'make', 'ld', 'as'];

const files = readdirSync(REMOTE_DIR)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();
const manifests = files.flatMap((name) => loadManifests(path.join(REMOTE_DIR, name)));

function nameOf(m: Manifest): string | undefined {
  return (m.object.metadata as { name?: string } | undefined)?.name;
}

function find(kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.object.kind === kind && (name === undefined || nameOf(m) === name));
  if (found.length !== 1) throw new Error(`config/k8s/remote: ${found.length} ${kind} ${name ?? ''}`);
  return found[0] as Manifest;
}

function specOf<T>(m: Manifest): T {
  return m.object.spec as T;
}

const deployment = find('Deployment');
const toolsSpec = podSpecOf(deployment.object);
const tools = container(toolsSpec, 'tools');
const buildSpec = podSpecOf(find('Pod').object);
const gateway = container(buildSpec, 'gateway');
const build = container(buildSpec, 'build');

/** The k8psh.conf `c` loads, with its own environment, from the ConfigMap of these files. */
function configOfContainer(t: Test, spec: IPodSpec, c: IContainer): Config {
  const { config, warnings } = configIn(manifests, spec, c, args(c));
  t.same(warnings, [], `${c.name}: k8psh.conf loads without warnings`);
  return config;
}

/** `--remote HOST[:PORT]`: the port defaults to the section's. */
function remoteOf(options: readonly string[], sectionPort: number): { host: string; port: number } {
  const value = option(options, '--remote') ?? '';
  const match = /^(.+?)(?::(\d+))?$/.exec(value);
  if (match === null) throw new Error(`no --remote in ${options.join(' ')}`);
  return { host: match[1] ?? '', port: match[2] === undefined ? sectionPort : Number(match[2]) };
}

/** Every value of a repeatable, comma-separated option (`--allow-identity a,b --allow-identity c`). */
function optionValues(options: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const arg = options[i] ?? '';
    if (arg === name) values.push(options[++i] ?? '');
    else if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1));
  }
  return values.flatMap((v) => v.split(','));
}

/** The Secret volume mounted at `dir` in `c`, if any. */
function secretAt(
  t: Test,
  spec: IPodSpec,
  c: IContainer,
  dir: string,
): { secretName?: string; mode?: number } | undefined {
  const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
  const secret = spec.volumes?.find((v) => v.name === mount?.name)?.secret;
  if (mount === undefined || secret === undefined) return undefined;
  t.equal(mount.readOnly, true, `${c.name} mounts the Secret ${secret.secretName} read-only`);
  t.notOk(mount.subPath, `${c.name}: the whole Secret (a subPath mount is never updated on renewal)`);
  return { secretName: secret.secretName, mode: secret.defaultMode };
}

function certificateFor(secretName: string | undefined): ICertificateSpec {
  const found = manifests.filter(
    (m) => m.object.kind === 'Certificate' && specOf<ICertificateSpec>(m).secretName === secretName,
  );
  if (found.length !== 1) throw new Error(`${found.length} Certificates write the Secret ${secretName}`);
  return specOf<ICertificateSpec>(found[0] as Manifest);
}

const toolsConfig = (t: Test): Config => configOfContainer(t, toolsSpec, tools);

t.test('config/k8s/remote holds the tools, the build Pod and the certificates', async (t) => {
  t.same(files, ['build-pod.yaml', 'secrets.yaml', 'tools.yaml']);
  const kinds = (file: string): unknown[] =>
    manifests.filter((m) => path.basename(m.file) === file).map((m) => m.object.kind);
  t.same(kinds('tools.yaml'), ['ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service']);
  t.same(kinds('build-pod.yaml'), ['Pod']);
  t.same(kinds('secrets.yaml'), ['Issuer', 'Certificate', 'Issuer', 'Certificate', 'Certificate']);
  const namespaces = new Set(manifests.map((m) => (m.object.metadata as { namespace?: string }).namespace));
  t.same([...namespaces], ['build'], 'one namespace, the one --remote and the certificate name');
});

t.test('every document validates (Kubernetes schema; cert-manager kinds by ./cert-manager.ts)', async (t) => {
  for (const m of manifests) {
    t.doesNotThrow(
      () => validateManifest(m.object, REMOTE_MODELS),
      `${path.relative(ROOT, m.file)}#${m.index} (${String(m.object.kind)})`,
    );
  }
});

t.test('every document uses known field names and types only (strict, like kubectl apply)', async (t) => {
  t.same(strictFieldErrors(manifests, REMOTE_MODELS), []);
});

t.test('the checks reject broken Certificates, Issuers and Deployments', async (t) => {
  const edited = (m: Manifest, edit: (spec: Record<string, unknown>) => void): Manifest => {
    const object = structuredClone(m.object);
    edit(object.spec as Record<string, unknown>);
    return { ...m, object };
  };
  const server = find('Certificate', 'k8psh-tools');
  const strict = (m: Manifest): string[] => strictFieldErrors([m], REMOTE_MODELS);

  const misspelt = edited(server, (spec) => {
    spec.dnsName = spec.dnsNames;
    delete spec.dnsNames;
  });
  t.match(strict(misspelt), [/'"?dnsName"?' does not exist/], 'a misspelt field');
  const usage = edited(server, (spec) => (spec.usages = ['server authentication']));
  t.match(
    strict(usage),
    [/"server authentication"' is not assignable to type 'KeyUsage'/],
    'a usage cert-manager does not know',
  );
  const noSecret = edited(server, (spec) => delete spec.secretName);
  t.match(strict(noSecret), [/'secretName' is missing/], 'a Certificate without secretName (types)');
  t.throws(() => validateCertManager(noSecret.object), /secretName/, '(and validation)');
  const algorithm = edited(server, (spec) => ((spec.privateKey as Record<string, unknown>).algorithm = 'EC'));
  t.match(strict(algorithm), [/'"EC"' is not assignable/], 'a key algorithm outside the enum');
  t.throws(
    () => validateCertManager(edited(server, (spec) => (spec.renewBefore = '1y')).object),
    /Go duration/,
    'a lifetime that is not a Go duration',
  );
  t.throws(
    () => validateCertManager(edited(server, (spec) => (spec.renewBefore = spec.duration)).object),
    /renewBefore/,
    'renewal no earlier than the end',
  );

  const ca = find('Issuer', 'k8psh-ca');
  t.throws(
    () => validateCertManager(edited(ca, (spec) => (spec.selfSigned = {})).object),
    /exactly one issuer kind/,
    'an Issuer of two kinds',
  );
  t.throws(
    () => validateCertManager({ ...ca.object, apiVersion: 'cert-manager.io/v1alpha2' }),
    /apiVersion/,
    'an old apiVersion',
  );
  t.match(
    strict({ ...ca, object: { ...ca.object, apiVersion: 'cert-manager.io/v1beta1' } }),
    [/"cert-manager.io\/v1beta1"' is not assignable/],
    '(also for the strict check)',
  );

  const typo = edited(deployment, (spec) => {
    spec.replica = spec.replicas;
    delete spec.replicas;
  });
  t.doesNotThrow(() => validateManifest(typo.object, REMOTE_MODELS), 'the schema lets a typo through...');
  t.match(strict(typo), [/'"?replica"?' does not exist/], '...the strict check does not');
  t.throws(() => validateManifest(find('Issuer', 'k8psh-ca').object), /no model/, 'the default models');
});

t.test("the ConfigMap's k8psh.conf: a [ tools ] section with --listen, --tls, --remote", async (t) => {
  const config = toolsConfig(t);
  t.same([...config.hosts.keys()], ['tools']);
  const host = config.hosts.get('tools');
  if (host === undefined) throw new Error('no host tools');
  for (const tool of TOOLS) t.equal(config.commands.get(tool)?.host, 'tools', `${tool} runs in the tools`);
  const options = host.serverOptions;
  const listen = optionValues(options, '--listen');
  t.same(listen, ['0.0.0.0'], '--listen 0.0.0.0: every address of the Pod, so mTLS');
  t.ok(option(options, '--tls')?.startsWith('/'), '--tls names an absolute directory');
  const remote = remoteOf(options, host.port);
  t.match(remote.host, /^[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local$/, '--remote names a Service');
  t.same(optionValues(options, '--allow-identity'), ['build']);
  t.notOk(option(options, '--server-uid'), 'no --server-uid: the gateway and the stubs share a uid');
  t.ok(
    host.environment.some((e) => e.kind === 'inherited' && e.name === 'PATH' && e.value === ''),
    "=PATH=: the tools run with the tools container's PATH (/usr/local/bin)",
  );
  t.ok(config.connectTimeoutMs >= 60000, 'stubs wait for tools that start late');
});

t.test('the tools Deployment: k8pshd serves the section, with the server certificate', async (t) => {
  const config = toolsConfig(t);
  const host = config.hosts.get('tools');
  const options = host?.serverOptions ?? [];
  const env = envOf(tools);

  t.equal(tools.image, 'gcc:13-bookworm');
  t.same(args(tools), [K8PSHD, '--config=/etc/k8psh/k8psh.conf', '--name=tools', '--metrics=0.0.0.0:9464']);
  t.equal(env.K8PSH_NAME, 'tools');
  t.equal(env.K8PSH_CONFIG, option(args(tools), '--config'));
  const port = tools.ports?.find((p) => p.name === 'k8psh');
  t.equal(port?.containerPort, host?.port, 'the container declares the section port');

  // --health speaks the plain local protocol to 127.0.0.1, which the mTLS listener on 0.0.0.0 holds:
  // the probes are --metrics' /readyz (503 while draining) and /livez.
  const metricsPort = tools.ports?.find((p) => p.name === 'metrics');
  t.equal(
    metricsPort?.containerPort,
    Number(option(args(tools), '--metrics')?.split(':')[1]),
    'the --metrics port is declared',
  );
  t.notOk(tools.readinessProbe?.exec, 'no exec probe: k8pshd --health cannot speak to an mTLS listener');
  t.same(tools.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' }, 'ready: /readyz');
  t.same(tools.livenessProbe?.httpGet, { path: '/livez', port: 'metrics' }, 'alive: /livez');

  const tls = option(options, '--tls') ?? '';
  const secret = secretAt(t, toolsSpec, tools, tls);
  t.equal(secret?.secretName, 'k8psh-tools-tls', `the server's Secret at --tls (${tls})`);
  t.equal(secret?.mode, 0o440, 'its key readable by fsGroup only');
  const certificate = certificateFor(secret?.secretName);
  t.ok(certificate.usages?.includes('server auth'), 'a server certificate');
  t.notOk(certificate.usages?.includes('client auth'), 'and not a client one');
  const remote = remoteOf(options, host?.port ?? 0);
  t.ok(certificate.dnsNames?.includes(remote.host), `for the name clients check (--remote ${remote.host})`);
  t.notOk(
    option(options, '--tls-server-name'),
    'no --tls-server-name: the --remote host is the name checked',
  );

  const spec = specOf<{ replicas?: number; selector: { matchLabels?: Record<string, string> } }>(deployment);
  const labels = (deployment.object.spec as { template: { metadata: { labels: Record<string, string> } } })
    .template.metadata.labels;
  for (const [key, value] of Object.entries(spec.selector.matchLabels ?? {}))
    t.equal(labels[key], value, `the Deployment selects its own Pods (${key})`);
});

t.test('the Service reaches the tools Pods at the port --remote names', async (t) => {
  const config = toolsConfig(t);
  const host = config.hosts.get('tools');
  const remote = remoteOf(host?.serverOptions ?? [], host?.port ?? 0);
  const service = find('Service');
  const spec = specOf<IServiceSpec>(service);
  const namespace = (service.object.metadata as { namespace?: string }).namespace;
  t.equal(`${nameOf(service)}.${namespace}.svc.cluster.local`, remote.host, '--remote is the Service');
  t.notOk(spec.type !== undefined && spec.type !== 'ClusterIP', 'a ClusterIP Service: inside the cluster');

  const labels = (deployment.object.spec as { template: { metadata: { labels: Record<string, string> } } })
    .template.metadata.labels;
  const selector = Object.entries(spec.selector ?? {});
  t.ok(selector.length > 0, 'the Service selects Pods');
  for (const [key, value] of selector) t.equal(labels[key], value, `the tools Pods carry ${key}=${value}`);

  const port = spec.ports?.find((p) => p.port === remote.port);
  t.ok(port, `the Service listens on ${remote.port}`);
  const target = tools.ports?.find((p) =>
    typeof port?.targetPort === 'string' ? p.name === port.targetPort : p.containerPort === port?.targetPort,
  );
  t.equal(target?.containerPort, host?.port, 'its target is the port the tools listen on');
  t.equal(port?.protocol ?? 'TCP', 'TCP');
});

t.test('the workspace: one ReadWriteMany claim, mounted at different paths', async (t) => {
  const claim = find('PersistentVolumeClaim');
  const spec = specOf<{ accessModes?: string[]; resources?: { requests?: Record<string, string> } }>(claim);
  t.same(spec.accessModes, ['ReadWriteMany'], 'Pods on different nodes mount it at once');
  t.ok(bytes(spec.resources?.requests?.storage ?? '0') > 0, 'a size');

  const claimOf = (pod: IPodSpec): string | undefined =>
    pod.volumes?.find((v) => v.name === 'workspace')?.persistentVolumeClaim?.claimName;
  t.equal(claimOf(toolsSpec), nameOf(claim), 'the tools mount the claim');
  t.equal(claimOf(buildSpec), nameOf(claim), 'the build Pod mounts the claim');

  const toolsWorkspace = mountPath(tools, 'workspace');
  const buildWorkspace = mountPath(build, 'workspace');
  t.equal(toolsWorkspace, '/workspace');
  t.equal(buildWorkspace, '/home/build/workspace');
  t.not(toolsWorkspace, buildWorkspace, 'at different paths');
  t.notOk(mountPath(gateway, 'workspace'), 'the gateway relays: it needs no workspace');

  // A stub sends its directory relative to its base; the server runs the command under its own.
  t.equal(toolsConfig(t).baseDirectory, toolsWorkspace, "the tools' base is their mount");
  t.equal(
    configOfContainer(t, buildSpec, build).baseDirectory,
    buildWorkspace,
    "the build's base is its mount",
  );
  t.equal(build.workingDir, buildWorkspace);
  t.equal(tools.workingDir, toolsWorkspace);
});

t.test('the build Pod: the gateway as a sidecar with the client certificate', async (t) => {
  const init = buildSpec.initContainers ?? [];
  t.same(
    init.map((c) => c.name),
    ['k8psh', 'gateway'],
    'the install, then the gateway (init containers start in order)',
  );
  t.same(
    buildSpec.containers.map((c) => c.name),
    ['build'],
  );
  t.equal(gateway.restartPolicy, 'Always', 'a sidecar: it runs beside the build, restarted if it exits');
  t.equal(gateway.image, IMAGE, 'the small k8psh image');

  const line = args(gateway);
  t.equal(line[0], K8PSHD, 'the installed copy, which the stubs link to and the build mounts');
  t.ok(line.includes('--gateway'));
  t.ok(line.includes('--overwrite-client-executables'), 'a restarted gateway replaces its stubs');
  const { config, warnings } = configIn(manifests, buildSpec, gateway, line);
  t.same(warnings, []);
  const host = config.hosts.get('tools');
  const options = host?.serverOptions ?? [];
  t.ok(option(options, '--remote'), 'the section it serves has --remote');

  const tls = option(options, '--tls') ?? '';
  const secret = secretAt(t, buildSpec, gateway, tls);
  t.equal(secret?.secretName, 'k8psh-build-tls', `the client's Secret at --tls (${tls})`);
  t.equal(secret?.mode, 0o440);
  const certificate = certificateFor(secret?.secretName);
  t.ok(certificate.usages?.includes('client auth'), 'a client certificate');
  t.notOk(certificate.usages?.includes('server auth'), 'and not a server one');
  t.ok(
    optionValues(options, '--allow-identity').includes(certificate.commonName ?? ''),
    `whose CN (${certificate.commonName}) the tools allow`,
  );
  t.notOk(secretAt(t, buildSpec, build, tls), 'the build container holds no key: only the gateway does');

  const env = envOf(gateway);
  t.equal(env.K8PSH_NAME, 'tools', 'the probes ask for the remote section, which the gateway serves');
  t.equal(env.K8PSH_CONFIG, option(line, '--config'));
  t.same(gateway.startupProbe?.exec?.command, [K8PSHD, '--health'], 'the build starts once it answers');
  t.same(gateway.readinessProbe?.exec?.command, [K8PSHD, '--health']);
  t.notOk(gateway.livenessProbe, 'no liveness probe: an unreachable server must not restart the gateway');

  const installer = init[0];
  t.equal(installer?.image, IMAGE);
  t.same(installer?.args, ['--install', K8PSHD]);
  for (const pod of [toolsSpec, buildSpec]) {
    const first = pod.initContainers?.[0];
    t.same(first?.args, ['--install', K8PSHD], 'each Pod installs k8psh first');
    t.equal(pod.volumes?.find((v) => v.name === first?.volumeMounts?.[0]?.name)?.emptyDir?.medium, 'Memory');
    for (const c of allContainers(pod).slice(1))
      t.same(
        c.volumeMounts?.find((m) => m.name === 'k8psh-bin'),
        { name: 'k8psh-bin', mountPath: BIN_DIR, readOnly: true },
        `${c.name} mounts the installed copy read-only at ${BIN_DIR}`,
      );
  }
});

t.test("the build container: the gateway's stubs first on PATH, and a build through them", async (t) => {
  const stubs = option(args(gateway), '--executable-directory');
  t.ok(stubs, 'the gateway writes stubs');
  const volume = gateway.volumeMounts?.find((m) => m.mountPath === stubs);
  t.notOk(volume?.readOnly, 'into a volume it may write');
  t.same(
    build.volumeMounts?.find((m) => m.name === volume?.name),
    { name: volume?.name, mountPath: stubs, readOnly: true },
    'which the build mounts read-only at the same path',
  );
  t.equal(buildSpec.volumes?.find((v) => v.name === volume?.name)?.emptyDir?.medium, 'Memory');

  const env = envOf(build);
  const PATH = env.PATH?.split(':') ?? [];
  t.equal(PATH[0], stubs, 'the stubs come first on PATH');
  t.ok(PATH.includes(BIN_DIR), 'k8pshd is on the PATH too');
  t.equal(build.image, 'debian:bookworm-slim', 'an image without a compiler');

  const config = configOfContainer(t, buildSpec, build);
  const text = script(build);
  for (const tool of ['make', 'gcc']) {
    t.match(text, new RegExp(`^${tool} `, 'm'), `the build runs ${tool}`);
    t.equal(config.commands.get(tool)?.host, 'tools', `a command of the remote section`);
  }
  t.match(text, /^cd "\$WORKSPACE\/hello"$/m, 'in the workspace, where the tools see it too');
  t.notOk(envOf(build).K8PSH_NAME, 'the build serves nothing');

  // One uid for the gateway and the stubs: a stub talks only to a listener of its own uid or root's.
  for (const c of allContainers(buildSpec)) t.notOk(c.securityContext?.runAsUser, `${c.name}: the Pod's uid`);
  t.equal(
    buildSpec.securityContext?.runAsUser,
    toolsSpec.securityContext?.runAsUser,
    'the tools run as it too',
  );
  t.equal(buildSpec.securityContext?.runAsNonRoot, true);
  for (const pod of [toolsSpec, buildSpec])
    t.equal(pod.automountServiceAccountToken, false, 'no API token where build code runs');
});

t.test('the CA: cert-manager bootstraps it and signs both certificates', async (t) => {
  const issuers = new Map(manifests.filter((m) => m.object.kind === 'Issuer').map((m) => [nameOf(m), m]));
  const issuerOf = (certificate: ICertificateSpec): IIssuerSpec | undefined => {
    t.equal(certificate.issuerRef.kind ?? 'Issuer', 'Issuer', 'an Issuer of the namespace');
    t.equal(certificate.issuerRef.group ?? 'cert-manager.io', 'cert-manager.io');
    const issuer = issuers.get(certificate.issuerRef.name);
    return issuer === undefined ? undefined : specOf<IIssuerSpec>(issuer);
  };
  const server = certificateFor('k8psh-tools-tls');
  const client = certificateFor('k8psh-build-tls');
  const caIssuer = issuerOf(server);
  t.ok(caIssuer?.ca, 'the server certificate comes from a CA Issuer');
  t.same(issuerOf(client), caIssuer, 'the client certificate from the same one: ca.crt is the same CA');
  const ca = certificateFor(caIssuer?.ca?.secretName);
  t.equal(ca.isCA, true, "the CA Issuer signs with a CA certificate's Secret");
  t.ok(issuerOf(ca)?.selfSigned, 'which a self-signed Issuer made');
  for (const certificate of [server, client, ca]) {
    t.equal(certificate.privateKey?.algorithm, 'ECDSA');
    const duration = goDurationSeconds(certificate.duration ?? '2160h');
    const renewBefore = goDurationSeconds(certificate.renewBefore ?? '0s');
    t.ok(renewBefore < duration, `${certificate.secretName}: renewed before it ends`);
  }
  for (const leaf of [server, client]) {
    t.ok(leaf.usages?.includes('digital signature'), 'TLS 1.3 signs with the key');
    t.notOk(leaf.usages?.includes('key encipherment'), 'an ECDSA key enciphers nothing');
    t.notOk(leaf.isCA, 'a leaf certificate');
  }
});

t.test('every container has resource requests and limits', async (t) => {
  checkResources(t, [...allContainers(toolsSpec), ...allContainers(buildSpec)]);
});

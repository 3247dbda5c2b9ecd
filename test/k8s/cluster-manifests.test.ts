/**
 * config/k8s/cluster/: the tools scaled out (docs/cluster.md, issue 25). Every document is valid
 * (kubernetes-models' schema and strict field names; cert-manager's Issuer and Certificate against
 * ./cert-manager.ts), and so is the agent Pod the Jenkins plugin would make from
 * jenkins/pod-template.yaml. Then the pieces must fit, each relation a function returning its
 * problems: the Services, the autoscaler, the disruption budget and the NetworkPolicy reach the tools
 * Pods (and the policy admits the build Pods and the agents); the gateways' --remote is the headless
 * Service at the section's port and the server certificate carries every name of both Services; the
 * probes and the scrape annotation are on k8pshd's --metrics port; SIGTERM has a grace period to
 * drain in; the k8psh.conf of the ConfigMap loads with the project's own parser in every container
 * and k8pshd's own option parser reads the options the tools serve with. The last tests break copies
 * of the manifests and see each relation report it. No cluster is involved.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { IHorizontalPodAutoscalerSpec } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscalerSpec';
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec';
import type { IPodDisruptionBudgetSpec } from 'kubernetes-models/policy/v1/PodDisruptionBudgetSpec';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec';
import { optionValues } from '../../src/config/section-options.js';
import { parseServerOptions } from '../../src/server/options.js';
import type { ICertificateSpec, IIssuerSpec } from './cert-manager.js';
import { jenkinsAgentPod } from './ci-pods.js';
import {
  allContainers,
  args,
  checkResources,
  configIn,
  envOf,
  loadManifests,
  type Manifest,
  MANIFEST_DIR,
  option,
  podSpecOf,
  ROOT,
  script,
  strictFieldErrors,
  validateManifest,
} from './manifests.js';
import { CLUSTER_MODELS } from './workload-models.js';

const CLUSTER_DIR = path.join(MANIFEST_DIR, 'cluster');
const JENKINS_TEMPLATE = path.join(CLUSTER_DIR, 'jenkins/pod-template.yaml');
const NAMESPACE = 'build';
const CLUSTER_DOMAIN = 'cluster.local';
const HOSTNAME = 'kubernetes.io/hostname';
/** The label the NetworkPolicy admits; what the build Pods and the agents carry. */
const BUILD_LABEL = 'k8psh.io/build';

/** What the relations are checked on: the real files, or a broken copy of them. */
interface World {
  /** Every document of config/k8s/cluster/*.yaml, in file order (the order of applying them). */
  manifests: Manifest[];
  /** The agent Pod the Jenkins plugin would make from jenkins/pod-template.yaml. */
  agent: IPod;
}

const files = readdirSync(CLUSTER_DIR)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort();
const real: World = {
  manifests: files.flatMap((name) => loadManifests(path.join(CLUSTER_DIR, name))),
  agent: jenkinsAgentPod({
    name: 'k8psh-agent-x7k2q',
    agentImage: 'jenkins/inbound-agent:latest-jdk21',
    template: JENKINS_TEMPLATE,
  }),
};

type Labels = Record<string, string>;
type Obj = Record<string, unknown>;

interface Selector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A label selector's verdict, as the API server's: null selects nothing, {} everything. */
function selects(selector: Selector | null | undefined, labels: Labels | undefined): boolean {
  if (selector === null || selector === undefined) return false;
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (have[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const value = have[key];
    const ok =
      operator === 'In'
        ? value !== undefined && values.includes(value)
        : operator === 'NotIn'
          ? value === undefined || !values.includes(value)
          : operator === 'Exists'
            ? value !== undefined
            : operator === 'DoesNotExist'
              ? value === undefined
              : false;
    if (!ok) return false;
  }
  return true;
}

const metaOf = (o: Obj): { name?: string; namespace?: string; labels?: Labels; annotations?: Labels } =>
  o.metadata ?? {};

function all(w: World, kind: string): Obj[] {
  return w.manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
}

function the(w: World, kind: string): Obj {
  const found = all(w, kind);
  if (found.length !== 1) throw new Error(`config/k8s/cluster: ${found.length} ${kind}, one expected`);
  return found[0] as Obj;
}

function specOf<T>(o: Obj): T {
  return o.spec as T;
}

function fileOf(w: World, object: Obj): string {
  return path.basename(w.manifests.find((m) => m.object === object)?.file ?? '?');
}

function containerIn(spec: IPodSpec, name: string): IContainer {
  const found = allContainers(spec).find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** The tools Pods: the Deployment's template. */
function toolsPod(w: World): { labels: Labels; annotations: Labels; spec: IPodSpec; tools: IContainer } {
  const deployment = the(w, 'Deployment');
  const template = (deployment.spec as { template: { metadata?: { labels?: Labels; annotations?: Labels } } })
    .template;
  const spec = podSpecOf(deployment);
  return {
    labels: template.metadata?.labels ?? {},
    annotations: template.metadata?.annotations ?? {},
    spec,
    tools: containerIn(spec, 'tools'),
  };
}

function buildPod(w: World): { labels: Labels; namespace?: string; spec: IPodSpec } {
  const pod = the(w, 'Pod');
  return { labels: metaOf(pod).labels ?? {}, namespace: metaOf(pod).namespace, spec: podSpecOf(pod) };
}

function agentPod(w: World): { labels: Labels; spec: IPodSpec } {
  const spec = w.agent.spec;
  if (spec === undefined) throw new Error('the agent Pod has no spec');
  return { labels: w.agent.metadata?.labels ?? {}, spec };
}

/** The k8psh.conf `c` loads (--config, else $K8PSH_CONFIG) from the ConfigMap mounted there, with its env. */
function configOf(w: World, spec: IPodSpec, c: IContainer): ReturnType<typeof configIn> {
  return configIn(w.manifests, spec, c, args(c));
}

/** The [ tools ] section, as the tools container reads it. */
function section(w: World): { port: number; options: string[] } {
  const { spec, tools } = toolsPod(w);
  const name = option(args(tools), '--name') ?? envOf(tools).K8PSH_NAME ?? '';
  const host = configOf(w, spec, tools).config.hosts.get(name);
  if (host === undefined) throw new Error(`k8psh.conf has no section ${name}`);
  return { port: host.port, options: host.serverOptions };
}

/** `--remote HOST[:PORT]` of the section: the port defaults to the section's. */
function remoteOf(w: World): { host: string; port: number } {
  const { port, options } = section(w);
  const match = /^(.+?)(?::(\d+))?$/.exec(option(options, '--remote') ?? '');
  if (match === null) throw new Error('the section has no --remote');
  return { host: match[1] ?? '', port: match[2] === undefined ? port : Number(match[2]) };
}

/** The options k8pshd serves the section with: the section's, then the command line, which wins. */
async function servedOptions(w: World): ReturnType<typeof parseServerOptions> {
  const { options } = section(w);
  return parseServerOptions([...options, ...(toolsPod(w).tools.args ?? [])], () => {}, options.length);
}

/** The number of the container port a Service or a probe names (by name or number). */
function containerPort(c: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** The Secret mounted read-only at `dir` in `c` (a whole volume: a subPath is never renewed). */
function secretAt(spec: IPodSpec, c: IContainer, dir: string): string | undefined {
  const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
  if (mount === undefined || mount.readOnly !== true || mount.subPath !== undefined) return undefined;
  return spec.volumes?.find((v) => v.name === mount.name)?.secret?.secretName;
}

function certificateWriting(w: World, secretName: string | undefined): ICertificateSpec | undefined {
  const found = all(w, 'Certificate')
    .map((o) => specOf<ICertificateSpec>(o))
    .filter((c) => c.secretName === secretName);
  return found.length === 1 ? found[0] : undefined;
}

/** The names a Service answers to inside the cluster: short, with namespace, .svc, fully qualified. */
function serviceNames(service: Obj): string[] {
  const { name, namespace } = metaOf(service);
  const base = `${name}.${namespace}`;
  return [name ?? '', base, `${base}.svc`, `${base}.svc.${CLUSTER_DOMAIN}`];
}

const fqdn = (service: Obj): string => serviceNames(service)[3] ?? '';

function services(w: World): { headless: Obj[]; clusterIP: Obj[] } {
  const list = all(w, 'Service');
  const headless = (s: Obj): boolean => specOf<IServiceSpec>(s).clusterIP === 'None';
  return { headless: list.filter(headless), clusterIP: list.filter((s) => !headless(s)) };
}

/** Why a relation does not hold: one line per problem, none when it holds. */
type Relation = (w: World) => Promise<string[]>;

const relations: Record<string, Relation> = {
  /** The Deployment selects its own Pods; the autoscaler, not the file, sets their number. */
  async deployment(w) {
    const problems: string[] = [];
    const deployment = the(w, 'Deployment');
    const spec = specOf<{
      replicas?: number;
      selector?: Selector;
      strategy?: { rollingUpdate?: { maxUnavailable?: number | string } };
    }>(deployment);
    if (!selects(spec.selector, toolsPod(w).labels)) problems.push('the Deployment does not select its Pods');
    if (spec.replicas !== undefined)
      problems.push('the Deployment sets replicas: every apply would undo the autoscaler');
    if (spec.strategy?.rollingUpdate?.maxUnavailable !== 0)
      problems.push('a rollout may take a replica away before its successor is ready');
    return problems;
  },

  /** k8pshd listens with mTLS on every address, with the server certificate, and serves --metrics. */
  async k8pshd(w) {
    const problems: string[] = [];
    const { spec, tools, annotations } = toolsPod(w);
    const options = await servedOptions(w);
    if (options === null) return ['k8pshd only answers --help'];
    if (options.listen.join() !== '0.0.0.0') problems.push(`--listen ${options.listen.join()}, not 0.0.0.0`);
    const secret = options.tls === undefined ? undefined : secretAt(spec, tools, options.tls);
    const certificate = certificateWriting(w, secret);
    if (!certificate?.usages?.includes('server auth'))
      problems.push(`no server certificate's Secret at --tls ${options.tls}`);
    const metricsPort = Number(/:(\d+)$/.exec(options.metrics ?? '')?.[1]);
    if (!options.metrics?.startsWith('0.0.0.0:')) problems.push('--metrics is not on every address');
    if (containerPort(tools, 'metrics') !== metricsPort)
      problems.push(`the port named metrics is not --metrics' ${metricsPort}`);
    if (
      annotations['prometheus.io/scrape'] !== 'true' ||
      Number(annotations['prometheus.io/port']) !== metricsPort
    )
      problems.push('the scrape annotations do not name the --metrics port');
    if (containerPort(tools, 'k8psh') !== section(w).port)
      problems.push('the port named k8psh is not the section port');
    return problems;
  },

  /** SIGTERM drains: readiness fails at once, running compiles get the grace period to finish. */
  async drain(w) {
    const problems: string[] = [];
    const { spec, tools } = toolsPod(w);
    const options = await servedOptions(w);
    const metricsPort = Number(/:(\d+)$/.exec(options?.metrics ?? '')?.[1]);
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (grace < 300) problems.push(`a grace period of ${grace} s kills long compiles`);
    for (const c of allContainers(spec))
      if (c.lifecycle?.preStop) problems.push(`${c.name} has a preStop hook: it only delays the drain`);
    const probes = { readinessProbe: '/readyz', livenessProbe: '/livez' } as const;
    for (const [probe, pathName] of Object.entries(probes) as [keyof typeof probes, string][]) {
      const get = tools[probe]?.httpGet;
      if (get?.path !== pathName) problems.push(`${probe} does not ask ${pathName}`);
      if (containerPort(tools, get?.port) !== metricsPort)
        problems.push(`${probe} is not on the --metrics port`);
    }
    return problems;
  },

  /** Replicas spread over nodes: a spread constraint and an anti-affinity preference, both soft. */
  async spread(w) {
    const problems: string[] = [];
    const { spec, labels } = toolsPod(w);
    const spread = spec.topologySpreadConstraints?.find((c) => c.topologyKey === HOSTNAME);
    if (!selects(spread?.labelSelector, labels)) problems.push('no spread over nodes of the tools Pods');
    if (spread?.whenUnsatisfiable !== 'ScheduleAnyway')
      problems.push('the spread may leave a replica unscheduled');
    const preferred = spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    if (
      !preferred.some(
        (p) => p.podAffinityTerm.topologyKey === HOSTNAME && selects(p.podAffinityTerm.labelSelector, labels),
      )
    )
      problems.push('no anti-affinity preference against another tools Pod on the node');
    if (spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution)
      problems.push('a required anti-affinity caps the replicas at the number of nodes');
    return problems;
  },

  /** Two Services over the tools Pods; the gateways' --remote is the headless one. */
  async services(w) {
    const problems: string[] = [];
    const { labels, tools } = toolsPod(w);
    const { port } = section(w);
    const { headless, clusterIP } = services(w);
    if (headless.length !== 1 || clusterIP.length !== 1)
      return [`${headless.length} headless and ${clusterIP.length} ClusterIP Services, one each expected`];
    const [replicas, virtual] = [headless[0] as Obj, clusterIP[0] as Obj];
    for (const service of [replicas, virtual]) {
      const name = metaOf(service).name;
      const spec = specOf<IServiceSpec>(service);
      if (Object.keys(spec.selector ?? {}).length === 0 || !selects({ matchLabels: spec.selector }, labels))
        problems.push(`${name} does not select the tools Pods`);
      if (selects({ matchLabels: spec.selector }, buildPod(w).labels))
        problems.push(`${name} selects build Pods`);
      const servicePort = spec.ports?.find((p) => p.port === port);
      if (servicePort === undefined) problems.push(`${name} has no port ${port}`);
      else if (containerPort(tools, servicePort.targetPort) !== port)
        problems.push(`${name}'s port ${port} does not reach the tools' port ${port}`);
    }
    if (specOf<IServiceSpec>(replicas).publishNotReadyAddresses !== false)
      problems.push('the headless Service may publish replicas that are not ready');
    if (![undefined, 'ClusterIP'].includes(specOf<IServiceSpec>(virtual).type))
      problems.push('the ClusterIP Service is exposed beyond the cluster');
    const remote = remoteOf(w);
    if (remote.host !== fqdn(replicas)) problems.push(`--remote ${remote.host} is not the headless Service`);
    if (remote.port !== port) problems.push(`--remote's port ${remote.port} is not the section's`);
    return problems;
  },

  /** The CA signs both leaves; the server's carries every Service name, the client's an allowed CN. */
  async certificates(w) {
    const problems: string[] = [];
    const { spec, tools } = toolsPod(w);
    const tls = option(section(w).options, '--tls') ?? '';
    const server = certificateWriting(w, secretAt(spec, tools, tls));
    const { headless, clusterIP } = services(w);
    const names = new Set(server?.dnsNames ?? []);
    for (const service of [...headless, ...clusterIP])
      for (const name of serviceNames(service))
        if (!names.has(name)) problems.push(`the server certificate lacks ${name}`);
    if (!names.has(remoteOf(w).host)) problems.push('the server certificate lacks the --remote host');
    if (option(section(w).options, '--tls-server-name'))
      problems.push('--tls-server-name: the gateway would check another name than the one it resolved');
    if (server?.usages?.includes('client auth')) problems.push('the server certificate is a client one too');

    const gateway = containerIn(buildPod(w).spec, 'gateway');
    const client = certificateWriting(w, secretAt(buildPod(w).spec, gateway, tls));
    if (!client?.usages?.includes('client auth'))
      problems.push("the gateway's Secret is no client certificate");
    const allowed = optionValues(section(w).options, ['--allow-identity']).flatMap(
      (v) => v.value?.split(',') ?? [],
    );
    if (!allowed.includes(client?.commonName ?? '')) problems.push(`CN ${client?.commonName} is not allowed`);

    const issuers = new Map(all(w, 'Issuer').map((o) => [metaOf(o).name, specOf<IIssuerSpec>(o)]));
    const caIssuer = issuers.get(server?.issuerRef.name);
    if (caIssuer?.ca === undefined) problems.push('the server certificate is not signed by a CA Issuer');
    if (client?.issuerRef.name !== server?.issuerRef.name) problems.push('the two leaves have different CAs');
    const ca = certificateWriting(w, caIssuer?.ca?.secretName);
    if (ca?.isCA !== true) problems.push("the CA Issuer's Secret is not a CA certificate's");
    if (issuers.get(ca?.issuerRef.name)?.selfSigned === undefined)
      problems.push('the CA is not bootstrapped by a self-signed Issuer');
    return problems;
  },

  /** The autoscaler scales the Deployment on CPU, from 3, down slowly. */
  async autoscaler(w) {
    const problems: string[] = [];
    const hpa = the(w, 'HorizontalPodAutoscaler');
    const spec = specOf<IHorizontalPodAutoscalerSpec>(hpa);
    const deployment = the(w, 'Deployment');
    const target = spec.scaleTargetRef;
    if (
      target.apiVersion !== deployment.apiVersion ||
      target.kind !== deployment.kind ||
      target.name !== metaOf(deployment).name ||
      metaOf(hpa).namespace !== metaOf(deployment).namespace
    )
      problems.push(`the autoscaler targets ${target.kind} ${target.name}, not the tools Deployment`);
    const min = spec.minReplicas ?? 1;
    if (min < 3) problems.push(`minReplicas ${min}: fewer than 3`);
    if (spec.maxReplicas <= min) problems.push('maxReplicas leaves nothing to scale');
    const cpu = spec.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource
      ?.target;
    if (
      cpu?.type !== 'Utilization' ||
      !((cpu.averageUtilization ?? 0) > 0 && (cpu.averageUtilization ?? 0) <= 100)
    )
      problems.push('no CPU utilization target');
    // A utilization is a share of the request: every container of the Pod needs one.
    for (const c of toolsPod(w).spec.containers)
      if (c.resources?.requests?.cpu === undefined) problems.push(`${c.name} has no CPU request`);
    const down = spec.behavior?.scaleDown;
    if ((down?.stabilizationWindowSeconds ?? 300) <= 300)
      problems.push('scale-down waits no longer than the default 5 minutes');
    if (!down?.policies?.length || down.policies.some((p) => p.type !== 'Pods' || p.value > 1))
      problems.push('scale-down may remove more than one replica per period');
    return problems;
  },

  /** Node drains evict one tools replica at a time, and no other Pod is counted. */
  async budget(w) {
    const problems: string[] = [];
    const spec = specOf<IPodDisruptionBudgetSpec>(the(w, 'PodDisruptionBudget'));
    const selector = spec.selector;
    if (!selects(selector, toolsPod(w).labels)) problems.push('the budget does not select the tools Pods');
    for (const [name, labels] of [
      ['build Pod', buildPod(w).labels],
      ['agent', agentPod(w).labels],
    ] as const)
      if (selects(selector, labels)) problems.push(`the budget counts the ${name}`);
    const min = specOf<IHorizontalPodAutoscalerSpec>(the(w, 'HorizontalPodAutoscaler')).minReplicas ?? 1;
    if (typeof spec.maxUnavailable !== 'number' || spec.maxUnavailable < 1 || spec.maxUnavailable >= min)
      problems.push(`maxUnavailable ${spec.maxUnavailable} does not keep replicas serving (min ${min})`);
    return problems;
  },

  /** Only labelled build Pods reach the k8psh port; only the monitoring namespace the metrics port. */
  async network(w) {
    const problems: string[] = [];
    const policy = the(w, 'NetworkPolicy');
    const spec = specOf<INetworkPolicySpec>(policy);
    const { labels, tools } = toolsPod(w);
    const { port } = section(w);
    if (!selects(spec.podSelector, labels)) problems.push('the policy does not select the tools Pods');
    if (!(spec.policyTypes ?? ['Ingress']).includes('Ingress'))
      problems.push('the policy restricts no ingress');
    const metricsPort = containerPort(tools, 'metrics');
    const rulesFor = (n: number | undefined): NonNullable<INetworkPolicySpec['ingress']> =>
      (spec.ingress ?? []).filter(
        (r) => r.ports === undefined || r.ports.some((p) => containerPort(tools, p.port) === n),
      );

    const k8psh = rulesFor(port);
    if (k8psh.length === 0) problems.push(`no rule admits the k8psh port ${port}`);
    for (const rule of k8psh) {
      if (!rule.from?.length) problems.push('a rule admits the k8psh port from everywhere');
      for (const peer of rule.from ?? []) {
        if (peer.namespaceSelector !== undefined || peer.ipBlock !== undefined)
          problems.push('the k8psh port is open beyond the namespace');
        const selector = peer.podSelector;
        if (Object.keys(selector?.matchLabels ?? {}).length + (selector?.matchExpressions?.length ?? 0) === 0)
          problems.push('the k8psh port is open to every Pod of the namespace');
        if (selects(selector, labels)) problems.push('the tools Pods admit each other');
      }
    }
    const admitted = (podLabels: Labels): boolean =>
      k8psh.some((r) => r.from?.some((peer) => selects(peer.podSelector, podLabels)));
    if (!admitted(buildPod(w).labels)) problems.push('the build Pod is not admitted to the k8psh port');
    if (buildPod(w).namespace !== metaOf(policy).namespace)
      problems.push('the build Pod runs in another namespace');
    if (!admitted(agentPod(w).labels)) problems.push('the Jenkins agent is not admitted to the k8psh port');

    const metrics = rulesFor(metricsPort).filter((r) => !k8psh.includes(r));
    if (metrics.length === 0) problems.push('no rule admits the metrics port: nothing can scrape it');
    for (const rule of metrics)
      if (!rule.from?.every((peer) => Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length > 0))
        problems.push('the metrics port is open beyond the monitoring namespace');
    return problems;
  },

  /** One ReadWriteMany claim at each side's base directory, the same path everywhere. */
  async workspace(w) {
    const problems: string[] = [];
    const claim = the(w, 'PersistentVolumeClaim');
    const spec = specOf<{ accessModes?: string[]; storageClassName?: string }>(claim);
    if (spec.accessModes?.join() !== 'ReadWriteMany') problems.push('the claim is not ReadWriteMany');
    if (spec.storageClassName !== undefined) problems.push('the claim picks a storage class for the user');
    const pods: [string, IPodSpec, string][] = [
      ['tools', toolsPod(w).spec, 'tools'],
      ['build Pod', buildPod(w).spec, 'build'],
      ['agent', agentPod(w).spec, 'jnlp'],
    ];
    for (const [what, pod, name] of pods) {
      const c = containerIn(pod, name);
      const volume = pod.volumes?.find((v) => v.persistentVolumeClaim?.claimName === metaOf(claim).name);
      const mount = c.volumeMounts?.find((m) => m.name === volume?.name);
      const base = configOf(w, pod, c).config.baseDirectory;
      if (mount === undefined) problems.push(`the ${what} does not mount the claim`);
      else if (mount.mountPath !== base || mount.subPath !== undefined)
        problems.push(`the ${what} mounts the claim at ${mount.mountPath}, its base is ${base}`);
    }
    return problems;
  },

  /** The build Pod and the Jenkins agent: a gateway sidecar with the client certificate, stubs first. */
  async gateways(w) {
    const problems: string[] = [];
    const tls = option(section(w).options, '--tls') ?? '';
    const pods: [string, IPodSpec, string][] = [
      ['build Pod', buildPod(w).spec, 'build'],
      ['agent', agentPod(w).spec, 'jnlp'],
    ];
    for (const [what, pod, main] of pods) {
      const gateway = containerIn(pod, 'gateway');
      const client = containerIn(pod, main);
      if (!pod.initContainers?.includes(gateway) || gateway.restartPolicy !== 'Always')
        problems.push(`the ${what}'s gateway is not a sidecar`);
      if (!args(gateway).includes('--gateway')) problems.push(`the ${what}'s gateway is no gateway`);
      const remote = option(
        configOf(w, pod, gateway).config.hosts.get('tools')?.serverOptions ?? [],
        '--remote',
      );
      if (remote !== remoteOf(w).host) problems.push(`the ${what}'s gateway reaches ${remote}`);
      const secret = secretAt(pod, gateway, tls);
      if (!certificateWriting(w, secret)?.usages?.includes('client auth'))
        problems.push(`the ${what}'s gateway has no client certificate at ${tls}`);
      if (client.volumeMounts?.some((m) => pod.volumes?.find((v) => v.name === m.name)?.secret))
        problems.push(`the ${what}'s ${main} container holds a Secret: only the gateway needs the key`);
      const stubs = option(args(gateway), '--executable-directory');
      if (envOf(client).PATH?.split(':')[0] !== stubs)
        problems.push(`the ${what}'s stubs are not first on PATH`);
      if (pod.securityContext?.runAsUser !== toolsPod(w).spec.securityContext?.runAsUser)
        problems.push(`the ${what} runs as another uid than the tools`);
    }
    // The build works in a directory of its own, under the base (the same path in the tools).
    const build = containerIn(buildPod(w).spec, 'build');
    const base = configOf(w, buildPod(w).spec, build).config.baseDirectory;
    if (build.env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name')
      problems.push('the build Pod does not know its name');
    if (!script(build).includes(`cd "${base}/$POD_NAME/`))
      problems.push('the build does not work in its own directory');
    return problems;
  },
};

t.test('config/k8s/cluster: small files, in the order of applying them', async (t) => {
  t.same(files, [
    '10-certificates.yaml',
    '20-config.yaml',
    '20-workspace.yaml',
    '30-network-policy.yaml',
    '40-services.yaml',
    '50-tools.yaml',
    '60-autoscaler.yaml',
    '60-disruption-budget.yaml',
    '70-build-pod.yaml',
  ]);
  const kinds = (file: string): unknown[] =>
    real.manifests.filter((m) => path.basename(m.file) === file).map((m) => m.object.kind);
  t.same(kinds('10-certificates.yaml'), ['Issuer', 'Certificate', 'Issuer', 'Certificate', 'Certificate']);
  t.same(kinds('40-services.yaml'), ['Service', 'Service']);
  for (const file of files.filter((f) => !['10-certificates.yaml', '40-services.yaml'].includes(f)))
    t.equal(kinds(file).length, 1, `${file}: one object`);
  const namespaces = new Set(real.manifests.map((m) => metaOf(m.object).namespace));
  t.same([...namespaces], [NAMESPACE], 'one namespace, the one in --remote and the certificate names');
  t.notOk(real.agent.metadata?.namespace, 'the agent template leaves the namespace to the pipeline');

  // What a Pod mounts exists before it: each ConfigMap, claim and certificate's Secret comes from a
  // file that sorts earlier (`kubectl apply -f config/k8s/cluster/` applies in that order).
  const before = (object: Obj | undefined, file: string, what: string): void => {
    t.ok(object !== undefined && fileOf(real, object) < file, `${what}: defined before ${file}`);
  };
  for (const workload of [the(real, 'Deployment'), the(real, 'Pod')]) {
    const file = fileOf(real, workload);
    for (const volume of podSpecOf(workload).volumes ?? []) {
      const named = (kind: string, name: string | undefined): Obj | undefined =>
        all(real, kind).find((o) => metaOf(o).name === name);
      if (volume.configMap)
        before(named('ConfigMap', volume.configMap.name), file, `ConfigMap ${volume.configMap.name}`);
      if (volume.persistentVolumeClaim)
        before(named('PersistentVolumeClaim', volume.persistentVolumeClaim.claimName), file, 'the claim');
      if (volume.secret)
        before(
          all(real, 'Certificate').find(
            (o) => specOf<ICertificateSpec>(o).secretName === volume.secret?.secretName,
          ),
          file,
          `Secret ${volume.secret.secretName}`,
        );
    }
  }
  const tools = fileOf(real, the(real, 'Deployment'));
  before(the(real, 'NetworkPolicy'), tools, 'the NetworkPolicy (no replica is ever open to all)');
  for (const kind of ['HorizontalPodAutoscaler', 'PodDisruptionBudget'])
    t.ok(fileOf(real, the(real, kind)) > tools, `${kind}: after the Deployment it refers to`);
});

t.test('every document validates (Kubernetes schema; cert-manager kinds by ./cert-manager.ts)', async (t) => {
  for (const m of real.manifests)
    t.doesNotThrow(
      () => validateManifest(m.object, CLUSTER_MODELS),
      `${path.relative(ROOT, m.file)}#${m.index} (${String(m.object.kind)})`,
    );
  t.doesNotThrow(
    () => validateManifest(real.agent as unknown as Obj, CLUSTER_MODELS),
    'the Jenkins agent Pod made from jenkins/pod-template.yaml',
  );
});

t.test('every document uses known field names and types only (strict, like kubectl apply)', async (t) => {
  const agent: Manifest = { file: JENKINS_TEMPLATE, index: 0, object: real.agent as unknown as Obj };
  t.same(strictFieldErrors([...real.manifests, agent], CLUSTER_MODELS), []);
});

t.test("the ConfigMap's k8psh.conf loads in every container that reads it, without warnings", async (t) => {
  const readers: [string, IPodSpec][] = [
    ['tools', toolsPod(real).spec],
    ['build Pod', buildPod(real).spec],
    ['agent', agentPod(real).spec],
  ];
  let count = 0;
  for (const [what, spec] of readers)
    for (const c of allContainers(spec)) {
      if (envOf(c).K8PSH_CONFIG === undefined && option(args(c), '--config') === undefined) continue;
      const { config, warnings } = configOf(real, spec, c);
      t.same(warnings, [], `${what}, ${c.name}`);
      t.same([...config.hosts.keys()], ['tools'], `${what}, ${c.name}: the one section`);
      count++;
    }
  t.equal(count, 5, 'tools; gateway and build; gateway and jnlp');
  const { options } = section(real);
  t.ok(option(options, '--tls')?.startsWith('/'), '--tls names an absolute directory, the same in every Pod');
});

for (const [name, relation] of Object.entries(relations))
  t.test(`relation: ${name}`, async (t) => {
    t.same(await relation(real), []);
  });

t.test('every container has resource requests and limits', async (t) => {
  checkResources(t, [
    ...allContainers(toolsPod(real).spec),
    ...allContainers(buildPod(real).spec),
    ...allContainers(agentPod(real).spec),
  ]);
});

/** A copy of `w` with one object (the first of `kind`, or the agent Pod) changed by `edit`. */
function broken(kind: string, edit: (o: Obj) => void, nth = 0): World {
  const copy = structuredClone(real);
  if (kind === 'agent') edit(copy.agent as unknown as Obj);
  else {
    const target = copy.manifests.filter((m) => m.object.kind === kind)[nth];
    if (target === undefined) throw new Error(`no ${kind} #${nth}`);
    edit(target.object);
  }
  return copy;
}

const podOf = (o: Obj): IPodSpec => podSpecOf(o);
const toolsOf = (o: Obj): IContainer => containerIn(podOf(o), 'tools');
const conf = (o: Obj, edit: (text: string) => string): void => {
  const data = o.data as Record<string, string>;
  data['k8psh.conf'] = edit(data['k8psh.conf'] ?? '');
};

/** Each breakage, and what the relation it breaks must say. */
const breakages: [string, string, World, RegExp][] = [
  [
    'a Deployment with replicas',
    'deployment',
    broken('Deployment', (o) => ((o.spec as Obj).replicas = 3)),
    /undo the autoscaler/,
  ],
  [
    '--listen on loopback only',
    'k8pshd',
    broken('Deployment', (o) => toolsOf(o).args?.push('--listen=127.0.0.1')),
    /--listen 127\.0\.0\.1/,
  ],
  [
    '--metrics on another port than the one named metrics',
    'k8pshd',
    broken('Deployment', (o) => {
      const c = toolsOf(o);
      c.args = c.args?.map((a) => a.replace(':9090', ':9091'));
    }),
    /port named metrics/,
  ],
  [
    'a short grace period',
    'drain',
    broken('Deployment', (o) => (podOf(o).terminationGracePeriodSeconds = 30)),
    /grace period of 30/,
  ],
  [
    'a preStop sleep',
    'drain',
    broken('Deployment', (o) => (toolsOf(o).lifecycle = { preStop: { sleep: { seconds: 10 } } })),
    /preStop/,
  ],
  [
    'readiness on the k8psh port',
    'drain',
    broken('Deployment', (o) => {
      const get = toolsOf(o).readinessProbe?.httpGet;
      if (get) get.port = 'k8psh';
    }),
    /readinessProbe is not on the --metrics port/,
  ],
  [
    'a spread over zones only',
    'spread',
    broken('Deployment', (o) => {
      for (const c of podOf(o).topologySpreadConstraints ?? []) c.topologyKey = 'topology.kubernetes.io/zone';
    }),
    /no spread over nodes/,
  ],
  [
    'a headless Service selecting another component',
    'services',
    broken('Service', (o) => ((o.spec as IServiceSpec).selector = { 'app.kubernetes.io/component': 'tool' })),
    /does not select the tools Pods/,
  ],
  [
    'a headless Service publishing replicas that are not ready',
    'services',
    broken('Service', (o) => ((o.spec as IServiceSpec).publishNotReadyAddresses = true)),
    /not ready/,
  ],
  [
    'a Service whose targetPort is no container port',
    'services',
    broken(
      'Service',
      (o) => ((o.spec as IServiceSpec).ports ?? []).forEach((p) => (p.targetPort = 'k8pshd')),
      1,
    ),
    /does not reach/,
  ],
  [
    '--remote naming the ClusterIP Service',
    'services',
    broken('ConfigMap', (o) => conf(o, (text) => text.replace('k8psh-tools-replicas.', 'k8psh-tools.'))),
    /is not the headless Service/,
  ],
  [
    'a server certificate without the headless names',
    'certificates',
    broken(
      'Certificate',
      (o) => {
        const spec = o.spec as ICertificateSpec;
        spec.dnsNames = spec.dnsNames?.filter((n) => !n.startsWith('k8psh-tools-replicas'));
      },
      1,
    ),
    /lacks k8psh-tools-replicas\.build\.svc\.cluster\.local/,
  ],
  [
    'a client certificate of another CN',
    'certificates',
    broken('Certificate', (o) => ((o.spec as ICertificateSpec).commonName = 'builder'), 2),
    /CN builder is not allowed/,
  ],
  [
    'an autoscaler aimed at another Deployment',
    'autoscaler',
    broken(
      'HorizontalPodAutoscaler',
      (o) => ((o.spec as IHorizontalPodAutoscalerSpec).scaleTargetRef.name = 'k8psh'),
    ),
    /not the tools Deployment/,
  ],
  [
    'an autoscaler that drops replicas four at a time',
    'autoscaler',
    broken('HorizontalPodAutoscaler', (o) => {
      for (const p of (o.spec as IHorizontalPodAutoscalerSpec).behavior?.scaleDown?.policies ?? [])
        p.value = 4;
    }),
    /more than one replica/,
  ],
  [
    'a budget over the build Pods',
    'budget',
    broken(
      'PodDisruptionBudget',
      (o) => ((o.spec as IPodDisruptionBudgetSpec).selector = { matchLabels: { [BUILD_LABEL]: 'true' } }),
    ),
    /does not select the tools Pods/,
  ],
  [
    'a policy admitting k8psh.io/build: "yes"',
    'network',
    broken('NetworkPolicy', (o) => {
      const peer = (o.spec as INetworkPolicySpec).ingress?.[0]?.from?.[0];
      if (peer) peer.podSelector = { matchLabels: { [BUILD_LABEL]: 'yes' } };
    }),
    /build Pod is not admitted/,
  ],
  [
    'a policy on port 1121',
    'network',
    broken('NetworkPolicy', (o) => {
      for (const p of (o.spec as INetworkPolicySpec).ingress?.[0]?.ports ?? []) p.port = 1121;
    }),
    /no rule admits the k8psh port 1120/,
  ],
  [
    'a build Pod without the label',
    'network',
    broken('Pod', (o) => delete (o.metadata as { labels: Labels }).labels[BUILD_LABEL]),
    /build Pod is not admitted/,
  ],
  [
    'an agent template without the label',
    'network',
    broken('agent', (o) => delete (o.metadata as { labels: Labels }).labels[BUILD_LABEL]),
    /Jenkins agent is not admitted/,
  ],
  [
    'metrics open to every namespace',
    'network',
    broken('NetworkPolicy', (o) => {
      const peer = (o.spec as INetworkPolicySpec).ingress?.[1]?.from?.[0];
      if (peer) peer.namespaceSelector = {};
    }),
    /beyond the monitoring namespace/,
  ],
  [
    'a ReadWriteOnce claim',
    'workspace',
    broken(
      'PersistentVolumeClaim',
      (o) => ((o.spec as { accessModes: string[] }).accessModes = ['ReadWriteOnce']),
    ),
    /not ReadWriteMany/,
  ],
  [
    'the agent mounting the claim under its own workspace',
    'workspace',
    broken('agent', (o) => {
      const mount = containerIn(podOf(o), 'jnlp').volumeMounts?.find((m) => m.name === 'workspace');
      if (mount) mount.mountPath = '/home/jenkins/agent/shared';
    }),
    /agent mounts the claim at \/home\/jenkins\/agent\/shared/,
  ],
  [
    'a gateway that is an ordinary init container',
    'gateways',
    broken('Pod', (o) => delete containerIn(podOf(o), 'gateway').restartPolicy),
    /build Pod's gateway is not a sidecar/,
  ],
  [
    'the client key in the agent container',
    'gateways',
    broken('agent', (o) => {
      containerIn(podOf(o), 'jnlp').volumeMounts?.push({ name: 'tls', mountPath: '/tls', readOnly: true });
    }),
    /jnlp container holds a Secret/,
  ],
];

t.test('each relation reports a broken copy of the manifests', async (t) => {
  for (const [what, relation, world, expected] of breakages) {
    const check = relations[relation];
    if (check === undefined) throw new Error(`no relation ${relation}`);
    const problems = await check(world);
    t.ok(
      problems.some((p) => expected.test(p)),
      `${what}: ${relation} says ${expected} (${problems.join('; ') || 'nothing'})`,
    );
  }
  t.same(await relations.services?.(real), [], 'the real files still pass (the copies were deep)');
});

t.test('the strict check rejects misspelt fields of the new kinds', async (t) => {
  const edited = (kind: string, edit: (spec: Obj) => void): Manifest => {
    const m = real.manifests.find((x) => x.object.kind === kind);
    if (m === undefined) throw new Error(`no ${kind}`);
    const object = structuredClone(m.object);
    edit(object.spec as Obj);
    return { ...m, object };
  };
  const strict = (m: Manifest): string[] => strictFieldErrors([m], CLUSTER_MODELS);
  t.match(
    strict(edited('HorizontalPodAutoscaler', (s) => ((s.minReplica = s.minReplicas), delete s.minReplicas))),
    [/'"?minReplica"?' does not exist/],
  );
  t.match(strict(edited('PodDisruptionBudget', (s) => (s.unhealthyPodEvictionPolicy = 'Always'))), [
    /'"Always"' is not assignable/,
  ]);
  t.match(strict(edited('NetworkPolicy', (s) => ((s.ingres = s.ingress), delete s.ingress))), [
    /'"?ingres"?' does not exist/,
  ]);
  t.throws(
    () => validateManifest(edited('Service', (s) => (s.ports = [{ port: 'k8psh' }])).object, CLUSTER_MODELS),
    'a Service port that is not a number',
  );
});

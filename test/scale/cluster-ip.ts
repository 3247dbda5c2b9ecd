/**
 * A ClusterIP Service as kube-proxy makes it in iptables mode, in one node's network namespace: a
 * virtual IP that no interface has, whose ports the nat table's OUTPUT chain DNATs to one of the
 * endpoints, chosen per connection by `-m statistic --mode random` rules (the i-th of n with
 * probability 1/(n-i), the last unconditionally), in KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-* chains.
 * A client of that node connecting to VIP:port lands on a random endpoint; conntrack keeps each
 * established connection on its endpoint when the rules change. With no endpoint the filter table
 * rejects the connection (ICMP port unreachable: ECONNREFUSED), as kube-proxy's "has no endpoints".
 *
 * Every change rewrites the node's nat and filter tables whole with one iptables-restore (atomic):
 * the namespace is the test's, nothing else puts rules there. Only the node's own connections
 * (OUTPUT) are translated: the node is the Service's client, as the build Pod is.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { nodesUnsupported, runIn, type SimNode } from '../remote/nodes.js';

let probed: string | false | undefined;

/** Why ClusterIPs cannot be made here (a reason for `skip`), or false. */
export function clusterIpUnsupported(): string | false {
  if (probed === undefined) {
    const version = spawnSync('iptables-restore', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (version.status !== 0) probed = 'iptables-restore is missing (apt-get install iptables)';
    else if (nodesUnsupported()) probed = nodesUnsupported();
    else {
      // The kernel's side too (nf_tables' nat in a namespace), in a namespace of this probe's own.
      const ns = `k8r-${process.pid}-iptables-probe`;
      spawnSync('ip', ['netns', 'add', ns], { timeout: 10_000 });
      const nat = spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-L', 'OUTPUT'], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
      probed = nat.status === 0 ? false : `iptables' nat table is not usable here: ${nat.stderr.trim()}`;
    }
  }
  return probed;
}

export interface ClusterIpOptions {
  /** namespace/name, for the chains' names and comments (e.g. 'build/k8psh-tools'). */
  service: string;
  ports: readonly number[];
  /** The endpoints' addresses (each port is DNATed to the same port there). */
  endpoints: readonly string[];
  /**
   * The virtual IP (default: .254 of the node's /24, which no node has). One outside the node's
   * subnet gets a /32 route on the node's eth0 in that node alone, so nothing else becomes routable.
   */
  address?: string;
}

export interface ClusterIp {
  address: string;
  ports: readonly number[];
  endpoints(): readonly string[];
  /** Rewrites the rules for these endpoints (scale up or down); new connections follow at once. */
  update(endpoints: readonly string[]): Promise<void>;
  /** iptables-save of the node: the rules as the kernel has them. */
  rules(): Promise<string>;
  /** Removes the Service's rules (the namespace's deletion removes them too). */
  remove(): Promise<void>;
}

interface Service {
  name: string;
  address: string;
  ports: readonly number[];
  endpoints: readonly string[];
}

/** The Services of each node (netns), all rendered into its tables on every change. */
const byNode = new Map<string, Map<string, Service>>();

export async function startClusterIp(node: SimNode, options: ClusterIpOptions): Promise<ClusterIp> {
  const address = options.address ?? node.address.replace(/\.\d+$/, '.254');
  if (!isIPv4(address)) throw new Error(`not an IPv4 virtual IP: ${address}`);
  for (const port of options.ports)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${port}`);
  let services = byNode.get(node.netns);
  if (!services) byNode.set(node.netns, (services = new Map<string, Service>()));
  if (services.has(options.service)) throw new Error(`${options.service} exists on ${node.name}`);
  const route = await runIn(node, ['ip', 'route', 'get', address]);
  if (route.code !== 0) await ip(node, 'route', 'add', `${address}/32`, 'dev', 'eth0');
  else if (!/ dev eth0 /.test(route.out)) throw new Error(`${address} is routed elsewhere: ${route.out}`);
  const service: Service = { name: options.service, address, ports: [...options.ports], endpoints: [] };
  services.set(options.service, service);
  const apply = async (endpoints: readonly string[]): Promise<void> => {
    for (const endpoint of endpoints)
      if (!isIPv4(endpoint)) throw new Error(`not an IPv4 endpoint: ${endpoint}`);
    service.endpoints = [...endpoints];
    await restore(node, [...services.values()]);
  };
  await apply(options.endpoints);
  return {
    address,
    ports: service.ports,
    endpoints: () => service.endpoints,
    update: apply,
    rules: async () => (await runIn(node, ['iptables-save'])).out,
    async remove() {
      services.delete(options.service);
      await restore(node, [...services.values()]);
    },
  };
}

async function ip(node: SimNode, ...args: string[]): Promise<void> {
  const result = await runIn(node, ['ip', ...args]);
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} in ${node.name}: ${result.err.trim()}`);
}

/** kube-proxy's chain names: a prefix and 16 characters of a hash of what the chain serves. */
function chain(prefix: string, ...parts: string[]): string {
  return `${prefix}${createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 16).toUpperCase()}`;
}

/** The iptables-restore input for every Service of a node. */
function renderRules(services: readonly Service[]): string {
  const natChains = new Set<string>(['KUBE-SERVICES']);
  const nat: string[] = ['-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'];
  const filter: string[] = ['-A OUTPUT -j KUBE-SERVICES'];
  for (const service of services)
    for (const port of service.ports) {
      const portName = `${service.name}:${port}`;
      const svc = chain('KUBE-SVC-', portName, 'tcp');
      const match = `-d ${service.address}/32 -p tcp -m tcp --dport ${port}`;
      const n = service.endpoints.length;
      if (n === 0) {
        filter.push(
          `-A KUBE-SERVICES ${match} -m comment --comment "${portName} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`,
        );
        continue;
      }
      natChains.add(svc);
      nat.push(`-A KUBE-SERVICES ${match} -m comment --comment "${portName} cluster IP" -j ${svc}`);
      service.endpoints.forEach((endpoint, i) => {
        const sep = chain('KUBE-SEP-', portName, 'tcp', endpoint);
        natChains.add(sep);
        const pick =
          i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
        nat.push(`-A ${svc} -m comment --comment "${portName} -> ${endpoint}:${port}"${pick} -j ${sep}`);
        nat.push(`-A ${sep} -p tcp -m tcp -j DNAT --to-destination ${endpoint}:${port}`);
      });
    }
  return [
    '*nat',
    ...['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'].map((name) => `:${name} ACCEPT [0:0]`),
    ...[...natChains].map((name) => `:${name} - [0:0]`),
    ...nat,
    'COMMIT',
    '*filter',
    ...['INPUT', 'FORWARD', 'OUTPUT'].map((name) => `:${name} ACCEPT [0:0]`),
    ':KUBE-SERVICES - [0:0]',
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

async function restore(node: SimNode, services: readonly Service[]): Promise<void> {
  const rules = renderRules(services);
  const result = await runIn(node, ['iptables-restore'], { input: rules, timeoutMs: 15_000 });
  if (result.code !== 0) throw new Error(`iptables-restore in ${node.name}: ${result.err.trim()}\n${rules}`);
}

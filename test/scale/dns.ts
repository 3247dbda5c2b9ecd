/**
 * A real DNS server for a simulated cluster's Service names, as CoreDNS answers for a headless
 * Service (one A record per ready replica) and a ClusterIP one (its virtual IP): Debian's dnsmasq,
 * started in one node's network namespace and listening only on that node's address, with no
 * upstream server (every other name is NXDOMAIN, `--local=/#/`) and a TTL of 1 s.
 *
 * Each name's addresses are a hosts file in a directory dnsmasq watches (`--hostsdir`, inotify): a
 * new file replaces the name's records. `set` renames the new file in and then resolves the name
 * from the node until the answer is the new one, so the next lookup made after it sees it.
 *
 * The nodes in `clients` (default: the node itself) get `nameserver <its address>` in their
 * resolv.conf; their hosts file keeps only the node names (makeNodes), so a Service name's answer
 * really comes from DNS.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { sleep } from '../e2e/harness.js';
import { runIn, spawnIn, type SimNode } from '../remote/nodes.js';

let probed: string | false | undefined;

/** Why the DNS server cannot run here (a reason for `skip`), or false. */
export function dnsUnsupported(): string | false {
  if (probed === undefined) {
    const version = spawnSync('dnsmasq', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    probed = version.status === 0 ? false : 'dnsmasq is missing (apt-get install dnsmasq-base)';
  }
  return probed;
}

export interface DnsOptions {
  /** The name `set` changes (a headless Service's), and its first addresses (IPv4). */
  name: string;
  addresses: readonly string[];
  /** More names with fixed addresses (a ClusterIP Service's name and its virtual IP). */
  records?: Record<string, readonly string[]>;
  /** The nodes that resolve through this server (default: `node`). */
  clients?: readonly SimNode[];
  /** Where dnsmasq's hosts files go (a directory of the test's own). */
  dir: string;
}

export interface Dns {
  /** The server's address (the node's own, port 53). */
  address: string;
  /** Replaces the addresses of `name` (default: the options' name); resolves once the node sees them. */
  set(addresses: readonly string[], name?: string): Promise<void>;
  /** What a name resolves to from `node` now (getent ahostsv4: getaddrinfo, as the gateway asks). */
  resolve(name: string, node?: SimNode): Promise<string[]>;
  /** dnsmasq's log (its queries included). */
  log(): string;
  process: ChildProcess;
  /** SIGTERM and wait for dnsmasq's exit. */
  stop(): Promise<void>;
}

export async function startDns(node: SimNode, options: DnsOptions): Promise<Dns> {
  const hostsDir = join(options.dir, 'hosts.d');
  mkdirSync(hostsDir, { recursive: true });
  const files = new Map<string, string>();
  let sequence = 0;
  const write = (name: string, addresses: readonly string[]): void => {
    for (const address of addresses)
      if (!isIPv4(address)) throw new Error(`not an IPv4 address for ${name}: ${address}`);
    let file = files.get(name);
    if (!file) files.set(name, (file = `name-${files.size}`));
    // Written beside the directory and renamed in: dnsmasq never reads half a file.
    const staged = join(options.dir, `${file}.${sequence++}`);
    writeFileSync(staged, addresses.map((address) => `${address} ${name}\n`).join(''));
    renameSync(staged, join(hostsDir, file));
  };
  write(options.name, options.addresses);
  for (const [name, addresses] of Object.entries(options.records ?? {})) write(name, addresses);

  for (const client of options.clients ?? [node])
    writeFileSync(
      `/etc/netns/${client.netns}/resolv.conf`,
      `nameserver ${node.address}\noptions timeout:1 attempts:2\n`,
    );
  const child = spawnIn(
    node,
    [
      'dnsmasq',
      '--conf-file=/dev/null',
      '--keep-in-foreground',
      '--log-facility=-',
      '--log-queries',
      '--pid-file=',
      '--user=root',
      '--group=root',
      '--no-resolv',
      '--no-hosts',
      '--local=/#/',
      '--bind-interfaces',
      `--listen-address=${node.address}`,
      `--hostsdir=${hostsDir}`,
      '--local-ttl=1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const waitForLog = async (pattern: RegExp): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!pattern.test(log)) {
      if (gone || Date.now() > deadline) throw new Error(`dnsmasq did not start:\n${log}`);
      await sleep(20);
    }
  };
  const resolveName = async (name: string, from: SimNode = node): Promise<string[]> => {
    const result = await runIn(from, ['getent', 'ahostsv4', name], { timeoutMs: 15_000 });
    // 2: not found (NXDOMAIN, or no answer yet).
    if (result.code !== 0 && result.code !== 2) throw new Error(`getent ahostsv4 ${name}: ${result.err}`);
    const found = result.out.split('\n').flatMap((line) => /^(\S+)\s+STREAM/.exec(line)?.[1] ?? []);
    return [...new Set(found)].sort();
  };
  const settled = async (name: string, addresses: readonly string[]): Promise<void> => {
    const wanted = JSON.stringify([...new Set(addresses)].sort());
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (gone) throw new Error(`dnsmasq exited:\n${log}`);
      const seen = await resolveName(name);
      if (JSON.stringify(seen) === wanted) return;
      if (Date.now() > deadline)
        throw new Error(`${name} resolves to ${seen.join(' ') || 'nothing'}, not ${wanted}:\n${log}`);
      await sleep(20);
    }
  };
  try {
    await waitForLog(/started, version/);
    await settled(options.name, options.addresses);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    address: node.address,
    async set(addresses, name = options.name) {
      write(name, addresses);
      await settled(name, addresses);
    },
    resolve: resolveName,
    log: () => log,
    process: child,
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
    },
  };
}

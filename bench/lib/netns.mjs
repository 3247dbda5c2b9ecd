/**
 * Simulated nodes for the remote figures: network namespaces named `k8b-<pid>-NAME`, joined by a
 * veth pair (./remote.mjs) or by a bridge (./remote-scale.mjs), with no route anywhere else, and
 * their own /etc/hosts where a name must resolve (`ip netns exec` mounts /etc/netns/<ns>/hosts over
 * /etc/hosts). A network's namespaces and /etc/netns directories go at exit whatever happens;
 * those of a bench process that is gone (SIGKILLed) are swept at the next start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The prefix of everything this run makes outside its scratch directory (namespaces, cgroups). */
export const PREFIX = `k8b-${process.pid}-`;
const NETNS_ETC = '/etc/netns';

/** True for a `k8b-<pid>-…` name of a bench process that no longer exists. */
export function isStale(name) {
  const match = /^k8b-(\d+)-/.exec(name);
  return match !== null && Number(match[1]) !== process.pid && !existsSync(`/proc/${match[1]}`);
}

const probes = new Map();

/**
 * Why simulated nodes cannot be made here, or false: not Linux, not root, no `ip netns`, no veth
 * (and, with `bridge`, no bridge device). Probed once per kind.
 */
export function namespacesUnsupported({ bridge = false } = {}) {
  const key = bridge ? 'bridge' : 'veth';
  if (!probes.has(key)) probes.set(key, probe(bridge));
  return probes.get(key);
}

function probe(bridge) {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const ns = `${PREFIX}probe`;
  const run = (...args) => spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  const added = run('netns', 'add', ns);
  if (added.error) return `ip is not usable: ${added.error.message} (apt-get install iproute2)`;
  if (added.status !== 0) return `ip netns add failed: ${added.stderr.trim()}`;
  try {
    const veth = run('-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1');
    if (veth.status !== 0) return `ip link add type veth failed: ${veth.stderr.trim()}`;
    if (bridge) {
      const br = run('-n', ns, 'link', 'add', 'probe2', 'type', 'bridge');
      if (br.status !== 0) return `ip link add type bridge failed: ${br.stderr.trim()}`;
    }
    return false;
  } finally {
    run('netns', 'del', ns);
  }
}

export function ip(...args) {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0)
    throw new Error(`ip ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}`);
}

/**
 * A network of nodes being made: `node(name, address)` adds a namespace (loopback up), `pair` and
 * `bridge` wire them, `hosts` gives one its /etc/hosts; `cleanup()` (also run at exit) deletes all
 * of it, killing what still runs inside.
 */
export function network() {
  sweepStale();
  const namespaces = [];
  const etcDirs = [];
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    for (const ns of namespaces.reverse()) deleteNamespace(ns);
    for (const dir of etcDirs) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  return {
    cleanup,
    /** A node: { name, netns, address } (address without its prefix length). */
    node(name, address = null) {
      const netns = `${PREFIX}${name}`;
      ip('netns', 'add', netns);
      namespaces.push(netns);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      return { name, netns, address };
    },
    /** One veth pair, `eth0` on either side, each node's address on it. */
    pair(a, b, prefixLength) {
      ip('-n', a.netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.netns);
      for (const node of [a, b]) up(node, prefixLength);
    },
    /** A bridge `br0` in the (address-less) node `lan`, each member's `eth0` plugged into it. */
    bridge(lan, members, prefixLength) {
      ip('-n', lan.netns, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', lan.netns, 'link', 'set', 'br0', 'up');
      for (const [i, node] of members.entries()) {
        const port = `port${i}`;
        ip('-n', lan.netns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns);
        ip('-n', lan.netns, 'link', 'set', port, 'master', 'br0');
        ip('-n', lan.netns, 'link', 'set', port, 'up');
        up(node, prefixLength);
      }
    },
    /**
     * The node's /etc/hosts (for every process started in it with `ip netns exec`): `entries` are
     * [address, name] lines, several for one name where it must resolve to several addresses.
     */
    hosts(node, entries) {
      const dir = join(NETNS_ETC, node.netns);
      mkdirSync(dir, { recursive: true });
      etcDirs.push(dir);
      const lines = ['127.0.0.1 localhost', '::1 localhost', ...entries.map((e) => e.join(' ')), ''];
      writeFileSync(join(dir, 'hosts'), lines.join('\n'));
    },
  };
}

function up(node, prefixLength) {
  ip('-n', node.netns, 'addr', 'add', `${node.address}/${prefixLength}`, 'dev', 'eth0');
  ip('-n', node.netns, 'link', 'set', 'eth0', 'up');
}

/** Kills what still runs in a namespace (sessions' commands, stubs) and deletes it. */
function deleteNamespace(ns) {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (pids.stdout ?? '').split('\n').filter(Boolean).map(Number))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
}

/** Namespaces and /etc/netns directories of bench processes that no longer exist. */
function sweepStale() {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (listed.stdout ?? '').split('\n')) {
    const ns = line.split(' ')[0];
    if (isStale(ns)) deleteNamespace(ns);
  }
  let etc = [];
  try {
    etc = readdirSync(NETNS_ETC);
  } catch {
    // No /etc/netns: nothing to sweep.
  }
  for (const name of etc) if (isStale(name)) rmSync(join(NETNS_ETC, name), { recursive: true, force: true });
}

/** `ip netns exec` execs its program (the child's pid is the program's); pdeathsig: it dies with us. */
export function inNode(node, argv) {
  const guard = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
  return ['netns', 'exec', node.netns, ...guard, ...argv];
}

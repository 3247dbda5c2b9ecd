/**
 * Simulated cluster nodes for the remote tests: one network namespace per node, all joined by a
 * bridge in a namespace of their own, with addresses in one 10.a.b.0/24 (and one fd6b:3872:x::/64)
 * and no default route anywhere. A server and its client then sit on different "machines" and
 * talk over a real interface, and nothing can leave: a connection to any other address fails in
 * connect() with ENETUNREACH before a packet exists.
 *
 * In each node, `ip netns exec` puts /etc/netns/<ns>/hosts over /etc/hosts: every node's name and
 * aliases resolve to its IPv4 address (so `--remote k8psh-tools.build.svc.cluster.local` is
 * testable), and a resolv.conf without a nameserver leaves the resolver only the node's own loopback.
 *
 * Namespaces are k8r-<pid>-<n>-<node>: unique per test process, and those of a process that is gone
 * (SIGKILLed before its cleanup) are deleted by the next makeNodes. cleanup() kills what runs in the
 * namespaces and deletes them; it also runs on the test's teardown, tap's end and process exit.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import tap from 'tap';
import { alive, run, type Result, type RunOptions, type TeardownHost } from '../e2e/harness.js';

export interface SimNode {
  name: string;
  /** The network namespace (`ip netns exec <netns>`). */
  netns: string;
  /** On the node's eth0: 10.a.b.<i+1>/24 and fd6b:3872:ab::<i+1>/64. */
  address: string;
  address6: string;
  /** Names that resolve to `address` on every node of the group (its name first). */
  hostnames: string[];
}

export interface Nodes<N extends string> {
  byName: Record<N, SimNode>;
  list: SimNode[];
  /** 10.a.b.0/24 */
  subnet: string;
  /** Idempotent and synchronous (it also runs from process.on('exit')). */
  cleanup(): void;
}

export interface NodesOptions<N extends string> {
  test?: TeardownHost;
  /** More names resolving to a node, e.g. { tools: ['k8psh-tools.build.svc.cluster.local'] }. */
  aliases?: Partial<Record<N, string[]>>;
}

const PREFIX = `k8r-${process.pid}-`;
let sequence = 0;
const cleanups = new Set<() => void>();
/** Children of spawnIn per namespace: killed by the cleanup before the namespace goes. */
const children = new Map<string, Set<ChildProcess>>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const all = (): void => cleanups.forEach((cleanup) => cleanup());
  tap.teardown(all);
  process.on('exit', all);
}

let probed: string | false | undefined;

/** Why nodes cannot be made here (a reason for `skip`), or false. */
export function nodesUnsupported(): string | false {
  if (probed !== undefined) return probed;
  if (process.platform !== 'linux') probed = 'network namespaces need Linux';
  else if (process.getuid?.() !== 0) probed = 'network namespaces need root (ip netns add)';
  else {
    const ns = `${PREFIX}probe`;
    const netns = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8', timeout: 10_000 });
    if (netns.error) probed = `ip is not usable: ${netns.error.message} (apt-get install iproute2)`;
    else if (netns.status !== 0) probed = `ip netns add failed: ${netns.stderr.trim()}`;
    else {
      const veth = ['-n', ns, 'link', 'add', 'name', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1'];
      const added = spawnSync('ip', veth, { encoding: 'utf8', timeout: 10_000 });
      probed = added.status === 0 ? false : `ip link add type veth failed: ${added.stderr.trim()}`;
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    }
  }
  return probed;
}

export async function makeNodes<N extends string>(
  names: readonly N[],
  options: NodesOptions<N> = {},
): Promise<Nodes<N>> {
  for (const name of names)
    if (!/^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/.test(name)) throw new Error(`not a node name: ${name}`);
  if (new Set(names).size !== names.length || names.length > 250)
    throw new Error('names must be unique, ≤ 250');
  hookExit();
  sweepStale();
  const n = sequence++;
  // Distinct per process and call, though namespaces would keep even equal subnets apart.
  const index = (process.pid * 8 + n) % (64 * 256);
  const [a, b] = [160 + Math.floor(index / 256), index % 256];
  const v6 = `fd6b:3872:${((a << 8) | b).toString(16)}`;
  const sw = `${PREFIX}${n}-switch`;
  const created: string[] = [];
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    cleanups.delete(cleanup);
    for (const ns of created.reverse()) deleteNamespace(ns);
  };
  cleanups.add(cleanup);
  options.test?.teardown(cleanup);

  const ip = async (...args: string[]): Promise<void> => {
    const result = await run('ip', args, { timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(`ip ${args.join(' ')}: ${result.err.trim()}`);
  };
  const addNamespace = async (ns: string): Promise<void> => {
    await ip('netns', 'add', ns);
    created.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  };
  try {
    await addNamespace(sw);
    await ip('-n', sw, 'link', 'add', 'name', 'br0', 'type', 'bridge'); // STP off: ports forward at once
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    const list = names.map((name, i): SimNode => ({
      name,
      netns: `${PREFIX}${n}-${name}`,
      address: `10.${a}.${b}.${i + 1}`,
      address6: `${v6}::${i + 1}`,
      hostnames: [name, ...(options.aliases?.[name] ?? [])],
    }));
    const hosts = [
      '127.0.0.1 localhost',
      '::1 localhost ip6-localhost ip6-loopback',
      ...list.map((node) => `${node.address} ${node.hostnames.join(' ')}`),
      '',
    ].join('\n');
    for (const [i, node] of list.entries()) {
      await addNamespace(node.netns);
      mkdirSync(`/etc/netns/${node.netns}`, { recursive: true });
      writeFileSync(`/etc/netns/${node.netns}/hosts`, hosts);
      writeFileSync(`/etc/netns/${node.netns}/resolv.conf`, '# names resolve through hosts only\n');
      await ip(
        '-n',
        sw,
        'link',
        'add',
        'name',
        `p${i}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        node.netns,
      );
      await ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      await ip('-n', node.netns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0');
      // nodad: usable at once, not after duplicate address detection's second.
      await ip('-n', node.netns, 'addr', 'add', `${node.address6}/64`, 'dev', 'eth0', 'nodad');
      await ip('-n', node.netns, 'link', 'set', 'eth0', 'up');
    }
    return {
      byName: Object.fromEntries(list.map((node) => [node.name, node])) as Record<N, SimNode>,
      list,
      subnet: `10.${a}.${b}.0/24`,
      cleanup,
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/**
 * `argv` run in the node's network namespace (`ip netns exec`, which execs it: the child's pid is
 * the program's). Under `setpriv --pdeathsig KILL` when available, so a test process that dies
 * takes it along; the node's cleanup SIGKILLs it too.
 */
export function spawnIn(node: SimNode, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn('ip', inNode(node, argv), options);
  track(node, child);
  return child;
}

/** spawnIn to completion, collecting everything (the e2e harness's run, in the node). */
export function runIn(node: SimNode, argv: readonly string[], options: RunOptions = {}): Promise<Result> {
  return run('ip', inNode(node, argv), options);
}

const PROBE = `
const [host, port, waitMs] = process.argv.slice(1);
const deadline = Date.now() + Number(waitMs);
const attempt = () => {
  const socket = require('node:net').connect({ host, port: Number(port) });
  socket.setTimeout(Math.max(Number(waitMs), 2000), () => socket.destroy(Object.assign(new Error(), { code: 'ETIMEDOUT' })));
  socket.once('connect', () => { socket.destroy(); process.stdout.write('connected'); });
  socket.once('error', (error) => {
    if (error.code === 'ECONNREFUSED' && Date.now() < deadline) setTimeout(attempt, 20);
    else process.stdout.write(error.code || error.message);
  });
};
attempt();`;

/**
 * A TCP connection from `node` to host:port: 'connected', or the error code ('ECONNREFUSED',
 * 'ENETUNREACH', …). Refusals are retried for `waitMs` (a server that is still starting).
 */
export async function probe(node: SimNode, host: string, port: number, waitMs = 0): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // the test runner's loader hooks would only slow a plain script down
  const result = await runIn(node, [process.execPath, '-e', PROBE, host, String(port), String(waitMs)], {
    env,
    timeoutMs: waitMs + 15_000,
  });
  if (result.code !== 0) throw new Error(`probe from ${node.name} failed: ${result.err}`);
  return result.out;
}

/** Resolves once host:port accepts connections from `node`; rejects after timeoutMs. */
export async function waitForPortIn(
  node: SimNode,
  host: string,
  port: number,
  timeoutMs = 15_000,
): Promise<void> {
  const outcome = await probe(node, host, port, timeoutMs);
  if (outcome !== 'connected') throw new Error(`${host}:${port} from ${node.name}: ${outcome}`);
}

function inNode(node: SimNode, argv: readonly string[]): string[] {
  const guard = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
  return ['netns', 'exec', node.netns, ...guard, ...argv];
}

function track(node: SimNode, child: ChildProcess): void {
  let set = children.get(node.netns);
  if (!set) children.set(node.netns, (set = new Set()));
  set.add(child);
  child.once('exit', () => set.delete(child));
}

function deleteNamespace(ns: string): void {
  for (const child of children.get(ns) ?? []) child.kill('SIGKILL');
  children.delete(ns);
  // What our children started in the namespace in turn (servers' sessions, shells' jobs).
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (pids.stdout ?? '').split('\n').filter(Boolean).map(Number))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

/** Namespaces of test processes that no longer exist (they could not clean up). */
function sweepStale(): void {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (listed.stdout ?? '').split('\n')) {
    const match = /^(k8r-(\d+)-\S+)/.exec(line);
    if (match && Number(match[2]) !== process.pid && !alive(Number(match[2]))) {
      spawnSync('ip', ['netns', 'del', match[1]!], { timeout: 10_000 });
      rmSync(`/etc/netns/${match[1]}`, { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface Binding {
  source: string;
  paths: string[];
  /** Unmounts every path and removes the mount points this call created. */
  cleanup(): void;
}

/**
 * One directory bind-mounted at several paths: the same volume mounted at different paths in two
 * Pods, with different realpaths, as a runtime would. Mount before spawning in a node: `ip netns
 * exec` gives its child a copy of the mount table as it is then.
 */
export function bindWorkspace(
  source: string,
  paths: readonly string[],
  options: { test?: TeardownHost } = {},
): Binding {
  hookExit();
  const mounted: string[] = [];
  const madeDirs: string[] = [];
  const targets = paths.map((path) => resolve(path));
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    cleanups.delete(cleanup);
    for (const path of mounted.reverse())
      if (spawnSync('umount', [path], { timeout: 10_000 }).status !== 0)
        spawnSync('umount', ['--lazy', path], { timeout: 10_000 }); // still busy: detach it
    for (const dir of madeDirs.sort((x, y) => y.length - x.length))
      try {
        rmdirSync(dir);
      } catch {
        // Not empty or gone: not ours to remove.
      }
  };
  cleanups.add(cleanup);
  options.test?.teardown(cleanup);
  try {
    for (const path of targets) {
      const first = mkdirSync(path, { recursive: true });
      // The mount point and the parents made for it, deepest first: removed when empty again.
      for (let dir = path; first !== undefined; dir = dirname(dir)) {
        madeDirs.push(dir);
        if (dir === first) break;
      }
      const result = spawnSync('mount', ['--bind', source, path], { encoding: 'utf8', timeout: 10_000 });
      if (result.status !== 0) throw new Error(`mount --bind ${source} ${path}: ${result.stderr.trim()}`);
      mounted.push(path);
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  return { source, paths: targets, cleanup };
}

/**
 * The scale tests' own ground (issue 25): dnsmasq answers a headless name with the addresses set
 * and follows every set(); the ClusterIP's rules spread connections over every endpoint, follow
 * update() and keep an established connection where it is; the replicas start, answer /readyz,
 * are published, run commands through the wrapper scripts that count them, and die with their
 * commands on SIGKILL; the C project builds byte-identically in two directories and through the
 * stubs; and the cleanup leaves no namespace, process, mount or file behind.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { cleanup, tempDir } from '../e2e/harness.js';
import { nodeEnv } from '../remote/cluster.js';
import { makeNodes, nodesUnsupported, runIn, spawnIn, waitForPortIn, type SimNode } from '../remote/nodes.js';
import { allGone, collect, hostPids, running, waitUntil } from '../remote/processes.js';
import { differences, make, outputs, writeCProject, type CProject } from './c-project.js';
import { clusterIpUnsupported, startClusterIp } from './cluster-ip.js';
import { dnsUnsupported, startDns } from './dns.js';
import {
  CLUSTER_IP_NAME,
  directConfig,
  HEADLESS_NAME,
  makeScaleCluster,
  scaleUnsupported,
} from './replicas.js';

const dir = tempDir('k8psh-scale-harness-');
t.teardown(() => cleanup(dir));
const NAMESPACES = `k8r-${process.pid}-`;
const namespaces = (): string => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;

/** What Node's dns.lookup (getaddrinfo, all addresses, any family) gives in `node`: sorted addresses or the code. */
async function lookup(node: SimNode, name: string): Promise<string[] | string> {
  const script = `require('node:dns').lookup(process.argv[1], { all: true }, (error, found) =>
    process.stdout.write(JSON.stringify(error ? error.code : found.map((a) => a.address).sort())))`;
  const result = await runIn(node, [process.execPath, '-e', script, name], { env: nodeEnv() });
  return JSON.parse(result.out) as string[] | string;
}

/** `getent ahostsv4 name` in `node`: the addresses (sorted, once each) and the exit code. */
async function getent(node: SimNode, name: string): Promise<{ code: number | null; addresses: string[] }> {
  const result = await runIn(node, ['getent', 'ahostsv4', name]);
  const addresses = result.out.split('\n').flatMap((line) => /^(\S+)\s+STREAM/.exec(line)?.[1] ?? []);
  return { code: result.code, addresses: [...new Set(addresses)].sort() };
}

t.test('dnsmasq answers the headless name', { skip: nodesUnsupported() || dnsUnsupported() }, async (t) => {
  const nodes = await makeNodes(['tools-0', 'tools-1', 'build'], { test: t });
  const [a, b, build] = nodes.list as [SimNode, SimNode, SimNode];
  const name = 'tools-replicas.test';
  const dns = await startDns(build, {
    name,
    addresses: [a.address, b.address],
    records: { 'tools.test': ['10.96.0.10'] },
    dir: join(dir, 'dns'),
  });
  t.notMatch(readFileSync(`/etc/netns/${build.netns}/hosts`, 'utf8'), name, 'not in the hosts file');
  t.match(readFileSync(`/etc/netns/${build.netns}/resolv.conf`, 'utf8'), `nameserver ${build.address}\n`);
  const listening = await runIn(build, ['ss', '-Hlun']);
  t.same(
    listening.out.split('\n').flatMap((line) => line.split(/\s+/)[3] ?? []),
    [`${build.address}:53`],
    'UDP: only on the node’s address',
  );

  t.same(await getent(build, name), { code: 0, addresses: [a.address, b.address].sort() }, 'getent');
  t.same(await lookup(build, name), [a.address, b.address].sort(), 'Node’s dns.lookup');
  t.same(await lookup(build, 'tools.test'), ['10.96.0.10'], 'a fixed record');
  t.match(dns.log(), new RegExp(`query\\[A\\] ${name.replace(/\./g, '\\.')} from ${build.address}`), 'asked');

  await dns.set([b.address]);
  t.same(await lookup(build, name), [b.address], 'the next lookup after set()');
  await dns.set([a.address, b.address, build.address]);
  t.same(await getent(build, name), { code: 0, addresses: [a.address, b.address, build.address].sort() });
  await dns.set([]);
  t.same(await lookup(build, name), 'ENOTFOUND', 'no endpoint: no name');
  t.same(await getent(build, name), { code: 2, addresses: [] });
  await dns.set([a.address]);
  t.same(await lookup(build, name), [a.address]);
  t.same(await lookup(build, 'example.com'), 'ENOTFOUND', 'no upstream: any other name is unknown');
  t.same(await lookup(build, 'tools-1'), [b.address], 'node names still come from the hosts file');
  // No nameserver in its resolv.conf: glibc asks its own loopback, where nothing answers.
  t.same(await lookup(a, name), 'EAI_AGAIN', 'a node that is not a client does not know it');
  // A and AAAA asked together (the nodes have IPv6 addresses): the A records still come back.
  const both = await runIn(build, ['getent', 'ahosts', name]);
  t.match(both.out, new RegExp(`^${a.address.replace(/\./g, '\\.')}\\s+STREAM ${name}`), 'AF_UNSPEC');

  await dns.stop();
  t.equal(dns.process.exitCode, 0, 'dnsmasq stopped on SIGTERM');
});

const ECHO = `
const [host, port, name] = process.argv.slice(1);
require('node:net').createServer((socket) => {
  socket.on('error', () => {});
  socket.write(name + '\\n');
  socket.pipe(socket);
}).listen(Number(port), host);`;

/** `count` connections one after the other from `node`: the first line of each, or the error code. */
async function connections(node: SimNode, host: string, port: number, count: number): Promise<string[]> {
  const script = `
const [host, port, count] = process.argv.slice(1);
const seen = [];
const next = () => {
  if (seen.length === Number(count)) return process.stdout.write(JSON.stringify(seen));
  const socket = require('node:net').connect(Number(port), host);
  socket.setTimeout(5000, () => socket.destroy(Object.assign(new Error(), { code: 'ETIMEDOUT' })));
  let text = '';
  socket.on('data', (chunk) => {
    text += chunk;
    if (text.includes('\\n')) { seen.push(text.split('\\n')[0]); socket.destroy(); next(); }
  });
  socket.on('error', (error) => { seen.push(error.code); next(); });
};
next();`;
  const result = await runIn(node, [process.execPath, '-e', script, host, String(port), String(count)], {
    env: nodeEnv(),
    timeoutMs: 60_000,
  });
  return JSON.parse(result.out) as string[];
}

function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

const skipClusterIp = nodesUnsupported() || clusterIpUnsupported();
t.test('the ClusterIP spreads connections and follows updates', { skip: skipClusterIp }, async (t) => {
  const nodes = await makeNodes(['tools-0', 'tools-1', 'tools-2', 'build'], { test: t });
  const tools = nodes.list.slice(0, 3);
  const build = nodes.byName.build;
  const port = 7000;
  for (const node of tools)
    spawnIn(node, [process.execPath, '-e', ECHO, node.address, String(port), node.name], {
      env: nodeEnv(),
      stdio: 'ignore',
    });
  for (const node of tools) await waitForPortIn(build, node.address, port);
  const service = await startClusterIp(build, {
    service: 'test/echo',
    ports: [port],
    endpoints: tools.map((node) => node.address),
  });
  const vip = service.address;
  t.notMatch((await runIn(build, ['ip', 'addr'])).out, vip, 'no interface has the virtual IP');
  const rules = await service.rules();
  t.match(rules, /-A KUBE-SERVICES -d \S+\/32 -p tcp -m tcp --dport 7000 .*-j KUBE-SVC-[0-9A-F]{16}/);
  t.match(rules, /--mode random --probability 0\.333/);
  t.match(rules, /--mode random --probability 0\.5/);
  t.match(rules, /-j DNAT --to-destination/);

  const spread = tally(await connections(build, vip, port, 60));
  t.same(
    Object.keys(spread).sort(),
    ['tools-0', 'tools-1', 'tools-2'],
    `every replica: ${JSON.stringify(spread)}`,
  );
  // Each gets 20 on average; fewer than 3 happens about once in 10^7 runs.
  for (const node of tools) t.ok(spread[node.name]! >= 3, `${node.name} got ${spread[node.name]} of 60`);

  // An established connection stays on its endpoint when the rules change (conntrack).
  const held = spawnIn(
    build,
    [
      process.execPath,
      '-e',
      `const s = require('node:net').connect(${port}, '${vip}'); s.pipe(process.stdout); process.stdin.pipe(s);`,
    ],
    { env: nodeEnv(), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const heldOut = collect(held, 'stdout');
  await waitUntil(heldOut, /^tools-\d\n/);
  const heldBy = heldOut().trim();

  const other = tools.find((node) => node.name !== heldBy)!;
  await service.update([other.address]);
  t.same(tally(await connections(build, vip, port, 20)), { [other.name]: 20 }, 'scaled to one');
  held.stdin!.write('still here\n');
  await waitUntil(heldOut, /still here\n/);
  t.equal(heldOut(), `${heldBy}\nstill here\n`, 'the established connection kept its endpoint');
  held.kill();

  await service.update([]);
  t.same(await connections(build, vip, port, 2), ['ECONNREFUSED', 'ECONNREFUSED'], 'no endpoint: refused');
  await service.update([tools[1]!.address, tools[2]!.address]);
  t.same(
    Object.keys(tally(await connections(build, vip, port, 30))).sort(),
    ['tools-1', 'tools-2'],
    'scaled up',
  );
  t.match((await runIn(build, ['ip', 'route', 'get', '1.1.1.1'])).err, /unreachable/i, 'still no route out');
  await service.remove();
  t.notMatch(await service.rules(), /KUBE-SVC/, 'removed');
});

let localBuild: Promise<CProject> | undefined;

/** The project built here with the local gcc, once for the file. */
function builtLocally(): Promise<CProject> {
  localBuild ??= (async () => {
    const project = writeCProject(join(dir, 'one', 'cproject'));
    const made = await make(project, { jobs: 2 });
    if (made.code !== 0) throw new Error(`the local build failed: ${made.err}`);
    return project;
  })();
  return localBuild;
}

t.test('the C project builds byte-identically in two directories', async (t) => {
  const started = Date.now();
  const first = await builtLocally();
  const second = writeCProject(join(dir, 'elsewhere', 'deeper', 'cproject'));
  t.equal(first.sources, 25, '24 units and main.c');
  const made = await make(second, { jobs: 2 });
  t.equal(made.code, 0, made.err);
  t.comment(`two local builds: ${Date.now() - started} ms`);
  const built = outputs(first);
  t.equal(built.size, first.objects.length + 1, 'every object and the program');
  t.same(differences(built, outputs(second)), [], 'identical bytes');
  for (const [name, bytes] of built)
    t.notOk(bytes.includes(Buffer.from(dir)), `${name} names no directory of the build`);
  const ran = spawnSync(join(first.dir, 'prog'), { encoding: 'utf8' });
  t.match(ran.stdout, /^checksum \d+\n$/);
});

t.test('replicas', { skip: scaleUnsupported() }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 2, nodes: 3 });
  const [a, b, c] = cluster.tools as [SimNode, SimNode, SimNode];
  t.same(cluster.published(), [0, 1]);
  t.same(await cluster.dns.resolve(HEADLESS_NAME), [a.address, b.address].sort(), 'the headless name');
  t.same(await cluster.dns.resolve(CLUSTER_IP_NAME), [cluster.clusterIp.address], 'the ClusterIP name');
  t.same(await lookup(cluster.build, HEADLESS_NAME), [a.address, b.address].sort(), 'by Node too');
  t.notMatch(readFileSync(`/etc/netns/${cluster.build.netns}/hosts`, 'utf8'), /k8psh-tools/);
  t.equal(await cluster.readyz(0), 200);
  t.equal(await cluster.readyz(1), 200);
  t.equal(await cluster.readyz(2), 'ECONNREFUSED', 'tools-2 has no server yet');
  const san = spawnSync(
    'openssl',
    ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(cluster.serverTls(2), 'tls.crt')],
    {
      encoding: 'utf8',
    },
  ).stdout;
  t.match(
    san,
    `DNS:${HEADLESS_NAME}, DNS:${CLUSTER_IP_NAME}, IP Address:${c.address}`,
    'the certificate’s names',
  );

  await cluster.startReplica(2);
  t.same(cluster.published(), [0, 1, 2], 'added once ready');
  t.same(await cluster.dns.resolve(HEADLESS_NAME), [a.address, b.address, c.address].sort());
  t.same(cluster.clusterIp.endpoints(), [a.address, b.address, c.address]);

  // One session through the gateway: which replica serves it is not this test's business.
  const probe = await cluster.stub('sh', ['-c', 'echo "$SCALE_REPLICA $(pwd)"']);
  t.equal(probe.code, 0, probe.err);
  const [replica, cwd] = probe.out.trim().split(' ') as [string, string];
  const index = cluster.tools.findIndex((node) => node.name === replica);
  t.ok(index >= 0, `served by a replica: ${probe.out}`);
  t.equal(cwd, cluster.toolsWorkspaces[index], 'in that replica’s path of the workspace');
  let runs = cluster.executions();
  t.same(
    runs[replica]!.map(({ command, args }) => ({ command, args })),
    [{ command: 'sh', args: ['-c', 'echo "$SCALE_REPLICA $(pwd)"'] }],
    'counted once, with its arguments',
  );
  t.equal(Object.values(runs).flat().length, 1, 'and nowhere else');
  t.equal((await cluster.stub('true')).code, 0);

  // The C project through the cc stub, beside the same project built here.
  const remote = writeCProject(join(cluster.buildWorkspace, 'cproject'), { cc: join(cluster.bin, 'cc') });
  const local = await builtLocally();
  const started = Date.now();
  const made = await make(remote, { node: cluster.build, jobs: 6, env: cluster.env });
  t.equal(made.code, 0, made.err);
  t.comment(`make -j6 through the stubs: ${Date.now() - started} ms`);
  t.same(
    differences(outputs(remote), outputs(local)),
    [],
    'objects and program identical to the local build',
  );
  runs = cluster.executions();
  const compiles = Object.values(runs)
    .flat()
    .filter((run) => run.command === 'cc');
  t.equal(compiles.length, remote.sources + 1, 'every compilation and the link, counted once');
  t.same(
    compiles
      .filter((run) => run.args.includes('-c'))
      .map((run) => run.args.at(-3))
      .sort(),
    remote.objects.map((object) => object.replace(/^obj\/(.*)\.o$/, 'src/$1.c')).sort(),
    'each source once',
  );

  // A client without the gateway reaches the replicas through the ClusterIP's name: a section of
  // another port (where no gateway listens) whose --remote is the ClusterIP Service.
  const direct = directConfig(cluster);
  const counted = (): Record<string, number> =>
    Object.fromEntries(Object.entries(cluster.executions()).map(([name, runs]) => [name, runs.length]));
  const before = counted();
  for (let i = 0; i < 4; i++) {
    const called = await cluster.stub('true', [], { env: { ...cluster.env, K8PSH_CONFIG: direct } });
    t.equal(called.code, 0, `through the ClusterIP: ${called.err}`);
  }
  const after = counted();
  const landed = Object.keys(after).map((name) => after[name]! - before[name]!);
  t.equal(
    landed.reduce((sum, n) => sum + n, 0),
    4,
    'each call ran once',
  );
  t.comment(`4 calls by the ClusterIP landed ${JSON.stringify(landed)} on tools-0..2`);
  t.match(cluster.dns.log(), `query[A] ${CLUSTER_IP_NAME} from ${cluster.build.address}`, 'asked DNS for it');

  // SIGKILL of a replica ends its commands, as its Pod's end would.
  const sleeper = cluster.spawnStub('sh', ['-c', 'echo "$SCALE_REPLICA $$"; exec sleep 60']);
  const said = collect(sleeper, 'stdout');
  const stubExit = once(sleeper, 'exit') as Promise<[number | null, string | null]>;
  await waitUntil(said, /^tools-\d \d+\n/);
  const [where, inner] = said().trim().split(' ') as [string, string];
  const victim = cluster.tools.findIndex((node) => node.name === where);
  const [sleeping] = hostPids(cluster.replicas[victim]!.pid(), [Number(inner)]);
  t.ok(running(sleeping!), 'the command runs');
  t.equal(await cluster.kill(victim), 1, 'unshare: 1 for a k8pshd a signal ended');
  t.ok(await allGone([sleeping!], 5000), 'its command died with it');
  t.equal((await stubExit)[0], 255, 'the stub reports the lost connection');
  t.equal(await cluster.readyz(victim), 'ECONNREFUSED');
  t.same(cluster.published(), [0, 1, 2], 'still published until the test says otherwise');
  await cluster.publish([0, 1, 2].filter((i) => i !== victim));
  t.equal((await cluster.dns.resolve(HEADLESS_NAME)).length, 2);
  // SIGTERM reaches the k8pshd (PID 1 of its namespace takes only signals it handles): a clean exit.
  const drained = (victim + 1) % 3;
  t.equal(await cluster.kill(drained, 'SIGTERM'), 0, 'SIGTERM: exit 0');
  t.equal(await cluster.readyz(drained), 'ECONNREFUSED');

  // Everything goes at cleanup.
  const processes: ChildProcess[] = [cluster.dns.process, cluster.gateway!.process];
  const pids = [
    ...processes.map((child) => child.pid!),
    ...cluster.replicas.flatMap((r) => (r ? [r.process.pid!] : [])),
  ];
  const alive = cluster.replicas.filter(
    (r) => r && r.process.exitCode === null && r.process.signalCode === null,
  );
  pids.push(...alive.map((r) => r!.pid()));
  cluster.cleanup();
  t.ok(await allGone(pids, 5000), 'no process left');
  t.notMatch(namespaces(), NAMESPACES, 'no namespace left');
  t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), cluster.dir, 'no mount left');
  t.notOk(existsSync(cluster.dir), 'no file left');
  const dnsmasq = spawnSync('pgrep', ['-f', cluster.dir], { encoding: 'utf8' }).stdout.trim();
  t.equal(dnsmasq, '', 'no dnsmasq (nor anything else) naming the cluster’s directory');
});

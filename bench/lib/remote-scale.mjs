/**
 * A tools Deployment scaled out, for the scale-out figures (issue 25, docs/benchmarks.md): three
 * "tools" replicas and two "build" nodes, network namespaces plugged into one bridge (10.203.0.0/24,
 * no route anywhere else; ./netns.mjs). Every replica runs `k8pshd --name tools` with mutual TLS,
 * in a cgroup of its own whose CPU quota (0.6 CPU for the build figure) its commands share, as a
 * Pod's CPU limit would (./cpu-quota.mjs). Both build nodes run a gateway with the same
 * configuration, `--remote tools-replicas.bench`: in build node "1" that name resolves (its
 * /etc/hosts) to the first replica only, in "3" to all three, as a headless Service's name lists its
 * ready replicas; the server certificate carries that name. So 1 and 3 replicas are measured in the
 * same run, interleaved, with nothing restarted between them.
 *
 * Each build node has its driver (./remote-driver.mjs), which runs make and the stubs there. One
 * set-up per bench run, adopted by run.mjs like ./remote.mjs's: stopped at the end, killed on
 * SIGINT, and its namespaces, /etc/netns files and cgroups removed at exit whatever happens.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../../test/lib/net.mjs';
import { makeCertificates, opensslUnsupported } from './certificates.mjs';
import { cpuGroup, cpuQuotaUnsupported } from './cpu-quota.mjs';
import { daemonIn, startDriver } from './in-node.mjs';
import { namespacesUnsupported, network } from './netns.mjs';

export const REPLICAS = 3;
/** The headless Service's name: what the gateways' --remote says and the certificate carries. */
export const SERVICE_NAME = 'tools-replicas.bench';
const SUBNET = '10.203.0';
/** Any port: every node has its own. */
const PORT = 1120;
const COMMANDS = ['true', 'gcc =PATH= gcc'];
/** The build nodes, by how many replicas their name resolves to. */
const BUILD_NODES = [1, REPLICAS];
/** A gateway's log line for each connection it makes (one per replica, once it spreads). */
const CONNECTED = /"msg":"connected to the server"/;
const CONNECT_GRACE_MS = 3000;

let probed;

/** Why the scale-out figures cannot run here (the figure's skip reason), or false. */
export function scaleUnsupported() {
  probed ??= (() => {
    const nodes = namespacesUnsupported({ bridge: true }) || opensslUnsupported();
    if (nodes) return `no simulated nodes here: ${nodes}`;
    const quota = cpuQuotaUnsupported();
    return quota ? `no CPU quota for the replicas here: ${quota}` : false;
  })();
  return probed;
}

/**
 * A scale-out figure: `measure(scale)` with this run's set-up, or `{ skipped: reason }` where
 * network namespaces, bridges, openssl or a writable cgroup cpu controller are not available.
 */
export async function scaleFigure(ctx, measure) {
  const unsupported = scaleUnsupported();
  if (unsupported) return { skipped: unsupported };
  ctx.scale ??= startScale(ctx);
  return measure(await ctx.scale);
}

async function startScale(ctx) {
  const { options } = ctx;
  const dir = join(options.scratch, 'scale');
  const work = join(dir, 'work');
  const bin = join(dir, 'bin');
  const serverBin = join(dir, 'server-bin');
  for (const d of [work, bin, serverBin]) mkdirSync(d, { recursive: true });
  for (const command of ['true', 'gcc']) symlinkSync(options.bin, join(bin, command));
  symlinkSync(options.bin, join(serverBin, 'k8pshd'));
  const k8pshd = join(serverBin, 'k8pshd');

  const net = network();
  const groups = [];
  const scale = {
    name: 'remote scale-out',
    work,
    stub: (command) => join(bin, command),
    replicas: [],
    /** By the number of replicas their gateway sees: { node, gateway, driver }. */
    builds: {},
    log: () =>
      [
        ...scale.replicas.map((r, i) => `--- replica ${i}\n${r.server?.log() ?? ''}`),
        ...Object.entries(scale.builds).map(([n, b]) => `--- gateway (${n})\n${b.gateway?.log() ?? ''}`),
      ].join('\n'),
    /** SIGINT: at once, synchronously. */
    kill() {
      for (const b of Object.values(scale.builds))
        for (const which of ['driver', 'gateway']) b[which]?.kill();
      for (const r of scale.replicas) r.server?.kill();
      net.cleanup();
      for (const group of groups) group.remove();
    },
    async stop() {
      for (const b of Object.values(scale.builds)) b.driver?.close();
      await Promise.all(Object.values(scale.builds).map((b) => b.gateway?.stop()));
      await Promise.all(scale.replicas.map((r) => r.server?.stop()));
      net.cleanup();
      for (const group of groups) group.remove();
    },
    /** Every replica's CPU limit (null: none). */
    limitCpu(cpus) {
      for (const r of scale.replicas) r.group.limit(cpus);
    },
    /** Sessions each replica has logged so far (one `remote session` line each). */
    sessionsPerReplica: () =>
      scale.replicas.map((r) => (r.server.log().match(/"msg":"remote session"/g) ?? []).length),
    throttledMsPerReplica: () => scale.replicas.map((r) => r.group.throttledMs()),
    /** Connections the gateway of build node `n` has logged as made so far. */
    connections: (n) => (scale.builds[n].gateway?.log().match(new RegExp(CONNECTED, 'g')) ?? []).length,
  };
  // Adopted before anything runs in the namespaces: a failure below still stops and removes them.
  ctx.adopt(scale);

  const lan = net.node('lan');
  for (let i = 0; i < REPLICAS; i++) {
    const group = cpuGroup(`tools${i}`);
    groups.push(group);
    scale.replicas.push({ node: net.node(`tools${i}`, `${SUBNET}.${11 + i}`), group, server: null });
  }
  for (const [i, n] of BUILD_NODES.entries())
    scale.builds[n] = { node: net.node(`build${n}`, `${SUBNET}.${2 + i}`), gateway: null, driver: null };
  const builds = Object.values(scale.builds);
  net.bridge(lan, [...scale.replicas.map((r) => r.node), ...builds.map((b) => b.node)], 24);
  for (const n of BUILD_NODES)
    net.hosts(
      scale.builds[n].node,
      scale.replicas.slice(0, n).map((r) => [r.node.address, SERVICE_NAME]),
    );

  const serverTls = join(dir, 'tools-tls');
  const clientTls = join(dir, 'build-tls');
  // One Secret for every replica, as a Deployment mounts: the name the gateways reach them by.
  makeCertificates(
    join(dir, 'pki'),
    { dir: serverTls, cn: SERVICE_NAME, san: `DNS:${SERVICE_NAME}` },
    { dir: clientTls, cn: 'build', san: 'DNS:build.bench' },
  );
  const config = join(dir, 'scale.conf');
  writeFileSync(
    config,
    [
      '# generated by bench/run.mjs: three tools replicas, reached by the name of their headless Service',
      'baseDirectory = work',
      `[ tools:${PORT} ] --listen 0.0.0.0 --tls \${TLS_DIR} --remote ${SERVICE_NAME} --allow-identity build`,
      ...COMMANDS,
      '',
    ].join('\n'),
  );
  const env = (extra) => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });
  scale.stubEnv = env({ K8PSH_CONFIG: config, K8PSH_CACHE_DIR: join(dir, 'cache'), TLS_DIR: clientTls });

  for (const r of scale.replicas) {
    r.group.limit(null);
    r.server = daemonIn(r.node, [k8pshd, '--name', 'tools', '-c', config, '-d'], {
      cwd: work,
      env: env({ TLS_DIR: serverTls }),
      cgroup: r.group.procs,
    });
  }
  await Promise.all(scale.replicas.map((r) => r.server.waitFor(/"msg":"listening"/)));
  for (const [n, b] of Object.entries(scale.builds)) {
    const stubs = join(dir, `gateway-stubs-${n}`);
    mkdirSync(stubs);
    b.gateway = daemonIn(b.node, [k8pshd, '--gateway', '-c', config, '-e', stubs, '-o'], {
      cwd: work,
      env: env({ TLS_DIR: clientTls }),
    });
  }
  await Promise.all(builds.map((b) => b.gateway.waitFor(CONNECTED)));
  // A gateway that spreads connects to every address its name lists, one that does not to the
  // first only: a moment for the others, without requiring them (the figures say what happened).
  const deadline = Date.now() + CONNECT_GRACE_MS;
  while (Date.now() < deadline && BUILD_NODES.some((n) => scale.connections(n) < n)) await sleep(50);
  for (const b of builds) {
    b.driver = startDriver(b.node);
    await b.driver.call({ op: 'ping' });
    // The first call goes through the TypeScript client, which writes the table the native stub
    // reads (docs/native-stubs.md); the figures' calls are all native.
    const first = await b.driver.call({ op: 'run', ...scaleRun(scale, 'true') });
    if (first.code !== 0)
      throw new Error(`the first call from ${b.node.name} exited ${first.code}: ${first.stderr}`);
  }
  await sleep(options.settleMs);
  return scale;
}

/** The `{ file, args, env, cwd }` of a stub of `command` (either build node: the same files). */
export function scaleRun(scale, command, args = [], env = {}, cwd = scale.work) {
  return { file: scale.stub(command), args, env: { ...scale.stubEnv, ...env }, cwd };
}

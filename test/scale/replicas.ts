/**
 * A tools Deployment of several replicas on simulated nodes (issue 25, docs/remote.md): nodes
 * tools-0 … tools-<n-1> and build (test/remote/nodes.ts), a k8pshd per replica with mutual TLS on
 * its node's address and --metrics on <address>:9090, each as PID 1 of a PID namespace of its own
 * (so a SIGKILL ends its commands, as its Pod's would end), one workspace bind-mounted at a
 * different path on every node, and on the build node:
 *
 *   - dnsmasq (./dns.ts) answering the headless Service name with the published replicas' addresses
 *     and the ClusterIP Service name with the virtual IP; the build node resolves through it alone;
 *   - the ClusterIP (./cluster-ip.ts): kube-proxy's iptables rules to the published replicas;
 *   - the gateway, with the section's `--remote <headless name>`, and the stubs it makes.
 *
 * Every replica's certificate carries both Service names and its node's address. Nodes exist from
 * the start; a replica's server starts when the test says (startReplica), so a replica can be
 * "added" mid-test. Publishing follows Kubernetes' endpoints: a replica started here is added to
 * DNS and the ClusterIP once /readyz answers 200; a killed one stays listed until the test calls
 * publish() (an endpoint lingers until the readiness probe or the deletion removes it).
 *
 * The section's commands cc, gcc, true and sh are wrapper scripts (one path, on the shared
 * filesystem) that append one line per execution to the replica's log, outside the workspace, then
 * exec the real program; the replica is named by the server's own SCALE_REPLICA, which the section
 * passes on with `=SCALE_REPLICA=` (an inherited spec: never from the client).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { cleanup as removeDirs, DAEMON, SKIP_UNBUILT, writeFile } from '../e2e/harness.js';
import { makePki, secretFor, type Pki } from '../remote/certs.js';
import {
  clusterDir,
  daemon,
  makeStubs,
  nodeEnv,
  PID_NAMESPACE,
  stubRunners,
  sweepStaleClusters,
  type Cluster,
  type Daemon,
} from '../remote/cluster.js';
import {
  bindWorkspace,
  makeNodes,
  nodesUnsupported,
  runIn,
  spawnIn,
  type Nodes,
  type SimNode,
} from '../remote/nodes.js';
import { writeSecretDir } from '../remote/secret-dir.js';
import { clusterIpUnsupported, startClusterIp, type ClusterIp } from './cluster-ip.js';
import { dnsUnsupported, startDns, type Dns } from './dns.js';

/** The headless Service: one A record per published replica (what the gateway's --remote names). */
export const HEADLESS_NAME = 'k8psh-tools-replicas.build.svc.cluster.local';
/** The ClusterIP Service: one virtual IP, spread per connection (clients without a gateway). */
export const CLUSTER_IP_NAME = 'k8psh-tools.build.svc.cluster.local';
export const SECTION_PORT = 1120;
export const METRICS_PORT = 9090;

/** The wrapped commands and the real programs they run. */
const WRAPPED = { cc: '/usr/bin/gcc', gcc: '/usr/bin/gcc', true: '/bin/true', sh: '/bin/sh' } as const;

/** Why a scale cluster cannot be made here (a reason for `skip`), or false. */
export function scaleUnsupported(): string | false {
  return SKIP_UNBUILT || nodesUnsupported() || dnsUnsupported() || clusterIpUnsupported();
}

export interface ScaleClusterOptions {
  /** Replicas started (and published) at once: tools-0 … (default 3). */
  replicas?: number;
  /** Tools nodes made (default `replicas`); the others' servers start with startReplica. */
  nodes?: number;
  /** More command lines for the section (after cc, gcc, true and sh). */
  commands?: string;
  /** More options on the section's line (after `--tls ${TLS_DIR} --remote <remote>`). */
  sectionOptions?: string;
  /** The section's --remote host (default the headless name). */
  remote?: string;
  connectTimeoutMs?: number;
  /** More arguments for every replica's k8pshd. */
  serverArgs?: readonly string[];
  /** Start the gateway (default true); without it, the stubs are made alone. */
  gateway?: boolean;
}

export interface Execution {
  replica: string;
  /** The wrapper's pid in its replica's PID namespace. */
  pid: number;
  command: keyof typeof WRAPPED;
  args: string[];
}

export interface ReplicaStart {
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Add it to DNS and the ClusterIP once ready (default true). */
  publish?: boolean;
}

/** stub() and spawnStub() are test/remote/cluster.ts's: the build node's stubs, in its workspace. */
export interface ScaleCluster extends Pick<Cluster, 'stub' | 'spawnStub'> {
  nodes: Nodes<string>;
  /** tools-0 … tools-<n-1>. */
  tools: SimNode[];
  build: SimNode;
  pki: Pki;
  dir: string;
  port: number;
  metricsPort: number;
  dns: Dns;
  clusterIp: ClusterIp;
  /** The workspace as each tools node mounts it (by index), and as the build node does. */
  toolsWorkspaces: string[];
  buildWorkspace: string;
  buildConfig: string;
  /** The configuration as replica i reads it. */
  toolsConfig(i: number): string;
  /** Replica i's Secret directory (its --tls). */
  serverTls(i: number): string;
  clientTls: string;
  /** Where the gateway makes the stubs. */
  bin: string;
  /** The build side's environment for stubs. */
  env: NodeJS.ProcessEnv;
  /** Each tools node's current (or last) server, by index. */
  replicas: (Daemon | null)[];
  gateway: Daemon | null;
  /** Starts replica i's k8pshd, waits for /readyz 200, then (by default) publishes it. */
  startReplica(i: number, options?: ReplicaStart): Promise<Daemon>;
  /**
   * Sends `signal` (default SIGKILL) to replica i's k8pshd itself (its namespace's PID 1, so a
   * SIGTERM drains it); resolves with the exit status of the unshare holding its namespace: the
   * k8pshd's own exit code, or 1 when a signal ended it (util-linux's unshare). DNS is unchanged.
   */
  kill(i: number, signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves once replica i's /readyz answers 200 from the build node; rejects after `ms`. */
  waitReady(i: number, ms?: number): Promise<void>;
  /** Replica i's /readyz from the build node now: the HTTP status, or the error code. */
  readyz(i: number): Promise<number | string>;
  /** Makes exactly these replicas the Services' endpoints (DNS and ClusterIP), in this order. */
  publish(indices: readonly number[]): Promise<void>;
  published(): readonly number[];
  startGateway(env?: NodeJS.ProcessEnv): Promise<Daemon>;
  /** Every wrapped execution so far, by replica name (every tools node listed, maybe empty). */
  executions(): Record<string, Execution[]>;
  /** Kills everything, deletes the namespaces, unmounts, removes the files; idempotent. */
  cleanup(): void;
}

const READY_PROBE = `
const [url, waitMs] = process.argv.slice(1);
const deadline = Date.now() + Number(waitMs);
const attempt = () =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.status,
    (error) => error.cause?.code ?? error.name,
  ).then((outcome) => {
    if (outcome === 200 || Date.now() >= deadline) process.stdout.write(String(outcome));
    else setTimeout(attempt, 50);
  });
attempt();`;

/**
 * A configuration for clients without the gateway (written beside the build's, its path returned):
 * the same section on a port where no gateway listens, named by the ClusterIP Service.
 */
export function directConfig(cluster: Pick<ScaleCluster, 'buildWorkspace' | 'buildConfig' | 'port'>): string {
  const direct = join(cluster.buildWorkspace, 'k8psh-direct.conf');
  writeFileSync(
    direct,
    readFileSync(cluster.buildConfig, 'utf8')
      .replace(`[ tools:${cluster.port} ]`, `[ tools:${cluster.port + 1} ]`)
      .replace(`--remote ${HEADLESS_NAME}`, `--remote ${CLUSTER_IP_NAME}:${cluster.port}`),
  );
  return direct;
}

export async function makeScaleCluster(t: Test, options: ScaleClusterOptions = {}): Promise<ScaleCluster> {
  const initial = options.replicas ?? 3;
  const count = options.nodes ?? initial;
  if (initial > count) throw new Error(`${initial} replicas need as many tools nodes, not ${count}`);
  sweepStaleClusters();
  const dir = clusterDir('scale-');
  const names = [...Array.from({ length: count }, (_, i) => `tools-${i}`), 'build'];
  const nodes = await makeNodes(names, { test: t });
  const tools = nodes.list.slice(0, count);
  const build = nodes.byName.build!;
  const source = join(dir, 'workspace');
  mkdirSync(source);
  const toolsWorkspaces = tools.map((node) => join(dir, `${node.name}-node`, 'workspace'));
  const buildWorkspace = join(dir, 'build-node', 'home', 'workspace');
  const binding = bindWorkspace(source, [...toolsWorkspaces, buildWorkspace], { test: t });
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    // Processes first (they hold the mounts), then the mounts, then the files.
    nodes.cleanup();
    binding.cleanup();
    removeDirs(dir);
  };
  t.teardown(cleanup);

  try {
    const pki = await makePki(join(dir, 'pki'));
    const serverTls = tools.map((node) => join(dir, `${node.name}-node`, 'tls'));
    for (const [i, node] of tools.entries())
      writeSecretDir(
        serverTls[i]!,
        secretFor(await pki.server({ dns: [HEADLESS_NAME, CLUSTER_IP_NAME], ips: [node.address] })),
      );
    const clientTls = join(dir, 'build-node', 'tls');
    writeSecretDir(clientTls, secretFor(await pki.client({ cn: 'build', san: ['DNS:build.ci'] })));

    const wrappers = join(dir, 'tools-bin');
    const logs = join(dir, 'executions');
    mkdirSync(logs);
    for (const [command, real] of Object.entries(WRAPPED))
      writeFile(join(wrappers, command), wrapper(command, real, logs), 0o755);
    const port = SECTION_PORT;
    const remote = options.remote ?? HEADLESS_NAME;
    const config = [
      `connectTimeoutMs = ${options.connectTimeoutMs ?? 5000}`,
      `[ tools:${port} ] =PATH= =SCALE_REPLICA= --tls \${TLS_DIR} --remote ${remote} ${options.sectionOptions ?? ''}`,
      ...Object.keys(WRAPPED).map((command) => `${command} ${join(wrappers, command)}`),
      options.commands ?? '',
      '',
    ].join('\n');
    writeFile(join(source, 'k8psh.conf'), config);
    chmodSync(join(source, 'k8psh.conf'), 0o644);

    const dns = await startDns(build, {
      name: HEADLESS_NAME,
      addresses: [],
      records: {},
      dir: join(dir, 'dns'),
    });
    const clusterIp = await startClusterIp(build, {
      service: 'build/k8psh-tools',
      ports: [port],
      endpoints: [],
    });
    await dns.set([clusterIp.address], CLUSTER_IP_NAME);

    const bin = join(dir, 'build-node', 'bin');
    mkdirSync(bin, { recursive: true });
    const buildConfig = join(buildWorkspace, 'k8psh.conf');
    // The stubs are called by path: named `true` and `sh`, they must not shadow the build side's.
    const env = nodeEnv({
      TLS_DIR: clientTls,
      K8PSH_CONFIG: buildConfig,
      K8PSH_CACHE_DIR: join(dir, 'build-node', 'cache'),
    });
    let endpoints: number[] = [];
    const toolsConfig = (i: number): string => join(toolsWorkspaces[i]!, 'k8psh.conf');
    const node = (i: number): SimNode => {
      const found = tools[i];
      if (!found) throw new Error(`no tools node ${i} (${count} made)`);
      return found;
    };
    const readyz = async (i: number, waitMs: number): Promise<number | string> => {
      const url = `http://${node(i).address}:${METRICS_PORT}/readyz`;
      const result = await runIn(build, [process.execPath, '-e', READY_PROBE, url, String(waitMs)], {
        env: nodeEnv(),
        timeoutMs: waitMs + 15_000,
      });
      if (result.code !== 0) throw new Error(`probing ${url} failed: ${result.err}`);
      return /^\d+$/.test(result.out) ? Number(result.out) : result.out;
    };

    const cluster: ScaleCluster = {
      nodes,
      tools,
      build,
      pki,
      dir,
      port,
      metricsPort: METRICS_PORT,
      dns,
      clusterIp,
      toolsWorkspaces,
      buildWorkspace,
      buildConfig,
      toolsConfig,
      serverTls: (i) => serverTls[i]!,
      clientTls,
      bin,
      env,
      replicas: tools.map(() => null),
      gateway: null,
      async startReplica(i, start = {}) {
        const tool = node(i);
        const previous = cluster.replicas[i];
        if (previous && runs(previous)) throw new Error(`${tool.name} runs already`);
        const argv = [
          ...PID_NAMESPACE,
          DAEMON,
          '--name',
          'tools',
          '-c',
          toolsConfig(i),
          '-d',
          '--listen',
          tool.address,
          '--tls',
          serverTls[i]!,
          '--metrics',
          `${tool.address}:${METRICS_PORT}`,
          ...(options.serverArgs ?? []),
          ...(start.args ?? []),
        ];
        const server = daemon(
          spawnIn(tool, argv, {
            cwd: toolsWorkspaces[i],
            env: nodeEnv({ TLS_DIR: serverTls[i], SCALE_REPLICA: tool.name, ...start.env }),
            stdio: ['ignore', 'ignore', 'pipe'],
          }),
          true,
        );
        cluster.replicas[i] = server;
        await server.waitFor(/"msg":"listening"/);
        await cluster.waitReady(i);
        if (start.publish ?? true) await cluster.publish([...endpoints.filter((e) => e !== i), i]);
        return server;
      },
      kill(i, signal = 'SIGKILL') {
        const server = cluster.replicas[i];
        if (!server) throw new Error(`${node(i).name} was never started`);
        if (runs(server))
          // The k8pshd itself (the namespace's PID 1), not unshare: a SIGTERM must reach it to drain.
          process.kill(server.pid(), signal);
        return server.exited;
      },
      async waitReady(i, ms = 15_000) {
        const outcome = await readyz(i, ms);
        if (outcome !== 200) throw new Error(`${node(i).name}'s /readyz: ${outcome} after ${ms} ms`);
      },
      readyz: (i) => readyz(i, 0),
      async publish(indices) {
        const addresses = indices.map((i) => node(i).address);
        await clusterIp.update(addresses);
        await dns.set(addresses);
        endpoints = [...indices];
      },
      published: () => endpoints,
      async startGateway(extra = {}) {
        const gateway = daemon(
          spawnIn(build, [DAEMON, '--gateway', '-c', buildConfig, '-e', bin, '-o'], {
            cwd: buildWorkspace,
            env: nodeEnv({ TLS_DIR: clientTls, ...extra }),
            stdio: ['ignore', 'ignore', 'pipe'],
          }),
        );
        cluster.gateway = gateway;
        await gateway.waitFor(/"msg":"gateway ready"/);
        return gateway;
      },
      ...stubRunners(build, bin, buildWorkspace, env, 60_000),
      executions() {
        const found: Record<string, Execution[]> = Object.fromEntries(tools.map((tool) => [tool.name, []]));
        for (const replica of [...tools.map((tool) => tool.name), 'unknown']) {
          let text: string;
          try {
            text = readFileSync(join(logs, `${replica}.log`), 'utf8');
          } catch {
            continue;
          }
          for (const line of text.split('\n').filter(Boolean)) {
            const [name, pid, command, ...args] = line.split(SEPARATOR);
            (found[name!] ??= []).push({
              replica: name!,
              pid: Number(pid),
              command: command as keyof typeof WRAPPED,
              args: args.length === 1 && args[0] === '' ? [] : args,
            });
          }
        }
        return found;
      },
      cleanup,
    };
    await Promise.all(Array.from({ length: initial }, (_, i) => cluster.startReplica(i, { publish: false })));
    await cluster.publish(Array.from({ length: initial }, (_, i) => i));
    if (options.gateway ?? true) await cluster.startGateway();
    else await makeStubs(cluster);
    return cluster;
  } catch (error) {
    cleanup();
    throw error;
  }
}

function runs(server: Daemon): boolean {
  return server.process.exitCode === null && server.process.signalCode === null;
}

/** Between a log line's fields: the unit separator, which no test argument holds. */
const SEPARATOR = '\x1f';

/**
 * A command's wrapper: one line `replica US pid US command US arg US arg …` appended to its
 * replica's log (one write, O_APPEND: concurrent executions do not interleave), then the real
 * program in its place (same pid, same arguments, same descriptors).
 */
function wrapper(command: string, real: string, logs: string): string {
  return [
    '#!/bin/sh',
    `# Counts this execution of ${command} on its replica (test/scale/replicas.ts), then runs ${real}.`,
    `replica=\${SCALE_REPLICA:-unknown}`,
    `IFS=$(printf '\\037')`,
    `line="$replica\${IFS}$$\${IFS}${command}\${IFS}$*"`,
    `printf '%s\\n' "$line" >>'${logs}'/"$replica.log"`,
    `exec ${real} "$@"`,
    '',
  ].join('\n');
}

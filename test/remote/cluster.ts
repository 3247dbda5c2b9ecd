/**
 * A remote section on simulated nodes (docs/remote.md): a "tools" node running k8pshd with mutual
 * TLS on its node address, a "build" node running the gateway and the stubs, one workspace
 * bind-mounted at a different path on each, certificates made here (./certs.ts) in Secret-shaped
 * directories (./secret-dir.ts). Nothing is reachable but the two nodes.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { alive, cleanup, DAEMON, freePorts, tempDir, writeFile, type Result } from '../e2e/harness.js';
import { makePki, secretFor, type Pki, type TlsFiles } from './certs.js';
import { bindWorkspace, makeNodes, runIn, spawnIn, type SimNode } from './nodes.js';
import { writeSecretDir } from './secret-dir.js';

/** The name the server's certificate carries and clients reach it by (an alias in the nodes' hosts). */
export const TOOLS_NAME = 'tools.test';

export interface Daemon {
  process: ChildProcess;
  stderr(): string;
  /** Resolves when `pattern` appears in its stderr (the log); rejects after `ms` or at its exit. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  /** SIGTERM (or `signal`) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
  /** The k8pshd's own pid (under `serverPidNamespace`, not the unshare's that started it). */
  pid(): number;
}

export interface ClusterOptions {
  /** The section's command lines. */
  commands: string;
  /** More options on the remote section's line (after --listen, --tls and --remote). */
  sectionOptions?: string;
  /** Start the gateway (default true). */
  gateway?: boolean;
  /**
   * The whole option text after the section's `]`, in place of the default
   * `--listen <tools address> --tls ${TLS_DIR} --remote tools.test <sectionOptions>`.
   */
  section?: (tools: SimNode) => string;
  /** The server's Secret (default: a leaf of the CA naming tools.test and the tools node's address). */
  serverSecret?: (pki: Pki, tools: SimNode) => Promise<TlsFiles>;
  /** The build side's Secret (default: a client leaf of the CA, CN=build, DNS:build.ci). */
  clientSecret?: (pki: Pki) => Promise<TlsFiles>;
  /**
   * Run the server as PID 1 of a PID namespace of its own, as a container's command is: when it
   * dies, the kernel ends every process left in the namespace, as in its Pod.
   */
  serverPidNamespace?: boolean;
}

export interface Cluster {
  tools: SimNode;
  build: SimNode;
  pki: Pki;
  dir: string;
  port: number;
  /** The workspace as each side mounts it. */
  toolsWorkspace: string;
  buildWorkspace: string;
  /** The configuration, in the workspace's root (its base directory on each side). */
  buildConfig: string;
  toolsConfig: string;
  serverTls: string;
  clientTls: string;
  /** The build side's stubs (made by the gateway, or by `makeStubs`). */
  bin: string;
  server: Daemon;
  gateway: Daemon | null;
  /** `env` is added to the server's (TLS_DIR: its Secret directory). */
  startServer(extraArgs?: string[], env?: NodeJS.ProcessEnv): Promise<Daemon>;
  /** k8pshd of the tools section run to its end on the tools node (a start-up that must fail). */
  runServer(extraArgs?: string[], env?: NodeJS.ProcessEnv): Promise<Result>;
  startGateway(env?: NodeJS.ProcessEnv): Promise<Daemon>;
  /** The stub `name` run on the build node, in the build side's workspace (or `cwd`). */
  stub(
    name: string,
    args?: readonly string[],
    options?: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<Result>;
  spawnStub(
    name: string,
    args?: readonly string[],
    options?: { cwd?: string; env?: NodeJS.ProcessEnv },
  ): ChildProcess;
  /** The build side's environment for stubs. */
  env: NodeJS.ProcessEnv;
}

/** A cluster's stub() and spawnStub(): the build node's stubs, in its workspace by default. */
export function stubRunners(
  build: SimNode,
  bin: string,
  workspace: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Pick<Cluster, 'stub' | 'spawnStub'> {
  return {
    stub(name, args = [], opts = {}) {
      return runIn(build, [join(bin, name), ...args], {
        cwd: opts.cwd ?? workspace,
        env: opts.env ?? env,
        input: opts.input,
        timeoutMs: opts.timeoutMs ?? timeoutMs,
      });
    },
    spawnStub(name, args = [], opts = {}) {
      return spawnIn(build, [join(bin, name), ...args], {
        cwd: opts.cwd ?? workspace,
        env: opts.env ?? env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    },
  };
}

export function daemon(child: ChildProcess, pidNamespace = false): Daemon {
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const listener of [...listeners]) listener();
  });
  return {
    process: child,
    stderr: () => stderr,
    exited,
    waitFor(pattern, ms = 15000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`not seen within ${ms} ms: ${pattern}\n${stderr}`));
        }, ms);
        function check(): void {
          if (pattern.test(stderr)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          } else if (gone) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`exited before ${pattern}:\n${stderr}`));
          }
        }
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (!gone) child.kill(signal);
      return exited;
    },
    pid() {
      if (!pidNamespace) return child.pid!;
      // unshare --fork: its one child is the namespace's PID 1.
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      if (!/^\d+$/.test(children)) throw new Error(`no single child under unshare: ${children}`);
      return Number(children);
    },
  };
}

/** The environment of a process in a node: without the test runner's loader hooks. */
export function nodeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

/**
 * The prefix of a server's command that makes it PID 1 of a PID namespace of its own, as a
 * container's command is (`unshare --fork`: the k8pshd is unshare's one child, see Daemon.pid).
 */
export const PID_NAMESPACE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'] as const;

/** The temporary directory of a cluster: its name ties it to this process (sweepStaleClusters). */
export function clusterDir(kind = ''): string {
  return realpathSync(tempDir(`k8psh-remote-${process.pid}-${kind}`));
}

/**
 * Clusters of test processes that are gone (killed before their teardown): their bind mounts would
 * stay in the mount table and their directories in /tmp.
 */
export function sweepStaleClusters(): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const name of readdirSync(tmpdir())) {
    const match = /^k8psh-remote-(\d+)-/.exec(name);
    if (!match || Number(match[1]) === process.pid || alive(Number(match[1]))) continue;
    const root = join(tmpdir(), name);
    for (const line of mounts.split('\n')) {
      const point = line.split(' ')[4];
      if (point?.startsWith(`${root}/`)) spawnSync('umount', ['--lazy', point], { timeout: 10_000 });
    }
    rmSync(root, { recursive: true, force: true });
  }
}

export async function makeCluster(t: Test, options: ClusterOptions): Promise<Cluster> {
  sweepStaleClusters();
  const dir = clusterDir();
  const nodes = await makeNodes(['tools', 'build'] as const, { test: t, aliases: { tools: [TOOLS_NAME] } });
  const { tools, build } = nodes.byName;
  const pki = await makePki(join(dir, 'pki'));
  const [port] = (await freePorts(1)) as [number];
  const source = join(dir, 'workspace');
  mkdirSync(source);
  const toolsWorkspace = join(dir, 'tools-node', 'workspace');
  const buildWorkspace = join(dir, 'build-node', 'home', 'workspace');
  const binding = bindWorkspace(source, [toolsWorkspace, buildWorkspace], { test: t });
  const serverSecret = options.serverSecret
    ? await options.serverSecret(pki, tools)
    : secretFor(await pki.server({ dns: [TOOLS_NAME], ips: [tools.address] }));
  const clientSecret = options.clientSecret
    ? await options.clientSecret(pki)
    : secretFor(await pki.client({ cn: 'build', san: ['DNS:build.ci'] }));
  const serverTls = join(dir, 'tools-node', 'tls');
  const clientTls = join(dir, 'build-node', 'tls');
  writeSecretDir(serverTls, serverSecret);
  writeSecretDir(clientTls, clientSecret);
  const section = options.section
    ? options.section(tools)
    : `--listen ${tools.address} --tls \${TLS_DIR} --remote ${TOOLS_NAME} ${options.sectionOptions ?? ''}`;
  const config = (text: string): string => `connectTimeoutMs = 5000\n[ tools:${port} ] ${section}\n${text}\n`;
  writeFile(join(source, 'k8psh.conf'), config(options.commands));
  const bin = join(dir, 'build-node', 'bin');
  mkdirSync(bin, { recursive: true });
  const env = nodeEnv({
    TLS_DIR: clientTls,
    K8PSH_CONFIG: join(buildWorkspace, 'k8psh.conf'),
    K8PSH_CACHE_DIR: join(dir, 'build-node', 'cache'),
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  });
  t.teardown(() => {
    // Processes first (they hold the mounts), then the mounts, then the files.
    nodes.cleanup();
    binding.cleanup();
    cleanup(dir);
  });

  const serverArgv = (extra: readonly string[]): string[] => [
    DAEMON,
    '--name',
    'tools',
    '-c',
    join(toolsWorkspace, 'k8psh.conf'),
    '-d',
    ...extra,
  ];
  const cluster: Cluster = {
    tools,
    build,
    pki,
    dir,
    port,
    toolsWorkspace,
    buildWorkspace,
    toolsConfig: join(toolsWorkspace, 'k8psh.conf'),
    buildConfig: join(buildWorkspace, 'k8psh.conf'),
    serverTls,
    clientTls,
    bin,
    env,
    server: null as unknown as Daemon,
    gateway: null,
    async startServer(extraArgs = [], extraEnv = {}) {
      const namespace = options.serverPidNamespace ? PID_NAMESPACE : [];
      const server = daemon(
        spawnIn(tools, [...namespace, ...serverArgv(extraArgs)], {
          cwd: toolsWorkspace,
          env: nodeEnv({ TLS_DIR: serverTls, ...extraEnv }),
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
        options.serverPidNamespace,
      );
      await server.waitFor(/"msg":"listening"/);
      cluster.server = server;
      return server;
    },
    runServer(extraArgs = [], extraEnv = {}) {
      return runIn(tools, serverArgv(extraArgs), {
        cwd: toolsWorkspace,
        env: nodeEnv({ TLS_DIR: serverTls, ...extraEnv }),
        timeoutMs: 15000,
      });
    },
    async startGateway(extra = {}) {
      const gateway = daemon(
        spawnIn(build, [DAEMON, '--gateway', '-c', cluster.buildConfig, '-e', bin, '-o'], {
          cwd: buildWorkspace,
          env: nodeEnv({ TLS_DIR: clientTls, ...extra }),
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
      await gateway.waitFor(/"msg":"gateway ready"/);
      cluster.gateway = gateway;
      return gateway;
    },
    ...stubRunners(build, bin, buildWorkspace, env, 30000),
  };
  await cluster.startServer();
  if (options.gateway ?? true) {
    await cluster.startGateway();
    await cluster.gateway!.waitFor(/connected to the server/);
  } else await makeStubs(cluster);
  return cluster;
}

/** Stubs without a gateway: a k8pshd whose name has no commands only makes them, then exits. */
export async function makeStubs(
  cluster: Pick<Cluster, 'build' | 'buildConfig' | 'bin' | 'buildWorkspace' | 'clientTls'>,
): Promise<void> {
  const result = await runIn(
    cluster.build,
    [DAEMON, '--name', 'stubs-only', '-c', cluster.buildConfig, '-e', cluster.bin, '-o'],
    {
      cwd: cluster.buildWorkspace,
      env: nodeEnv({ TLS_DIR: cluster.clientTls }),
    },
  );
  if (result.code !== 0) throw new Error(`making stubs failed: ${result.err}`);
}

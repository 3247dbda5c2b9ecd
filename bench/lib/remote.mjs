/**
 * A remote section for the benchmark (issue 24, docs/remote.md), on two simulated nodes: network
 * namespaces joined by one veth pair (10.202.0.1/30 and 10.202.0.2/30, no route anywhere else), a
 * "tools" node running k8pshd with mutual TLS on its address, and a "build" node running the gateway
 * (`k8pshd --gateway`), a Pod-local k8pshd serving the same commands (the baseline) and the stubs.
 * Certificates are made here by openssl (a CA, the server's, the client's) into Secret-shaped
 * directories; nothing is committed and everything is removed at the end.
 *
 * The stubs are timed by a driver (./remote-driver.mjs) that runs in the build node for the whole
 * run: entering the namespace with `ip netns exec` costs a few milliseconds of start-up, more than
 * the difference being measured, so it is paid once and not per stub.
 *
 * One set-up per bench run (`remoteSetup(ctx)`), handed to run.mjs as a target of its own so that
 * it is stopped at the end and killed on SIGINT; an exit handler deletes the namespaces whatever
 * happens, and namespaces of bench processes that are gone are swept at the next start.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from '../../test/lib/net.mjs';
import { NODE } from './process.mjs';
import { statusKiB } from './stats.mjs';

const DRIVER = fileURLToPath(new URL('./remote-driver.mjs', import.meta.url));
const PREFIX = `k8b-${process.pid}-`;
const TOOLS_ADDRESS = '10.202.0.1';
const BUILD_ADDRESS = '10.202.0.2';
/** The name the server's certificate carries; the client checks it (--tls-server-name). */
const SERVER_NAME = 'tools.bench';
/** The commands of both sections: the same stubs, answered remotely or Pod-locally. */
const COMMANDS = ['true', 'printf', 'head'];

let probed;

/** Why the remote figures cannot run here (shown as the figure's skip reason), or false. */
export function remoteUnsupported() {
  if (probed !== undefined) return probed;
  probed = probe();
  return probed;
}

function probe() {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (openssl.error || openssl.status !== 0) return 'openssl is not usable (apt-get install openssl)';
  const ns = `${PREFIX}probe`;
  const added = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8', timeout: 10_000 });
  if (added.error) return `ip is not usable: ${added.error.message} (apt-get install iproute2)`;
  if (added.status !== 0) return `ip netns add failed: ${added.stderr.trim()}`;
  const veth = spawnSync(
    'ip',
    ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1'],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
  return veth.status === 0 ? false : `ip link add type veth failed: ${veth.stderr.trim()}`;
}

/** The set-up of this run, made on first use. */
export function remoteSetup(ctx) {
  ctx.remote ??= startRemote(ctx);
  return ctx.remote;
}

async function startRemote(ctx) {
  const { options } = ctx;
  const dir = join(options.scratch, 'remote');
  const work = join(dir, 'work');
  const bin = join(dir, 'bin');
  const serverBin = join(dir, 'server-bin');
  for (const d of [work, bin, serverBin, join(dir, 'gateway-stubs')]) mkdirSync(d, { recursive: true });
  for (const command of COMMANDS) symlinkSync(options.bin, join(bin, command));
  symlinkSync(options.bin, join(serverBin, 'k8pshd'));
  const k8pshd = join(serverBin, 'k8pshd');

  const nodes = makeNodes();
  const remote = {
    name: 'remote',
    dir,
    work,
    stub: (command) => join(bin, command),
    tools: nodes.tools,
    build: nodes.build,
    server: null,
    gateway: null,
    local: null,
    driver: null,
    log: () =>
      ['server', 'gateway', 'local']
        .map((which) => `--- remote ${which}\n${remote[which]?.log() ?? ''}`)
        .join('\n'),
    /** SIGINT: at once, synchronously. */
    kill() {
      for (const which of ['driver', 'gateway', 'local', 'server']) remote[which]?.kill();
      nodes.cleanup();
    },
    async stop() {
      remote.driver?.close();
      await Promise.all(['gateway', 'local'].map((which) => remote[which]?.stop()));
      await remote.server?.stop();
      nodes.cleanup();
    },
  };
  // Adopted before anything runs in the namespaces: a failure below still stops and removes them.
  ctx.adopt(remote);

  const serverTls = join(dir, 'tools-node-tls');
  const clientTls = join(dir, 'build-node-tls');
  makeCertificates(join(dir, 'pki'), serverTls, clientTls);
  const [toolsPort, localPort] = await distinctPorts(2);
  const remoteConfig = join(dir, 'remote.conf');
  const localConfig = join(dir, 'local.conf');
  writeFileSync(
    remoteConfig,
    [
      '# generated by bench/run.mjs: the tools node serves the section over mTLS, the build node reaches it',
      'baseDirectory = work',
      `[ tools:${toolsPort} ] --listen ${TOOLS_ADDRESS} --tls \${TLS_DIR} --remote ${TOOLS_ADDRESS} ` +
        `--tls-server-name ${SERVER_NAME} --allow-identity build`,
      ...COMMANDS,
      '',
    ].join('\n'),
  );
  writeFileSync(
    localConfig,
    [
      '# generated by bench/run.mjs: the same commands, Pod-local',
      'baseDirectory = work',
      `[ local:${localPort} ]`,
      ...COMMANDS,
      '',
    ].join('\n'),
  );
  const daemonEnv = (extra) => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });
  remote.stubEnv = {
    // The build Pod's environment: its TLS directory is where the stubs' configuration says.
    remote: daemonEnv({
      K8PSH_CONFIG: remoteConfig,
      K8PSH_CACHE_DIR: join(dir, 'cache'),
      TLS_DIR: clientTls,
    }),
    local: daemonEnv({ K8PSH_CONFIG: localConfig, K8PSH_CACHE_DIR: join(dir, 'cache') }),
  };

  const startServer = async () => {
    remote.server = daemonIn(nodes.tools, [k8pshd, '--name', 'tools', '-c', remoteConfig, '-d'], {
      cwd: work,
      env: daemonEnv({ TLS_DIR: serverTls }),
    });
    await remote.server.waitFor(/"msg":"listening"/);
  };
  const startGateway = async () => {
    remote.gateway = daemonIn(
      nodes.build,
      [k8pshd, '--gateway', '-c', remoteConfig, '-e', join(dir, 'gateway-stubs'), '-o'],
      { cwd: work, env: daemonEnv({ TLS_DIR: clientTls }) },
    );
    await remote.gateway.waitFor(/"msg":"connected to the server"/);
  };
  const startLocal = async () => {
    remote.local = daemonIn(nodes.build, [k8pshd, '--name', 'local', '-c', localConfig, '-d'], {
      cwd: work,
      env: daemonEnv({}),
    });
    await remote.local.waitFor(/"msg":"listening"/);
  };
  /** A fresh gateway and Pod-local k8pshd (the memory figure), settled for `settleMs`. */
  remote.restartBuildSide = async () => {
    await Promise.all([remote.gateway?.stop(), remote.local?.stop()]);
    await Promise.all([startGateway(), startLocal()]);
    await sleep(options.settleMs);
  };
  await startServer();
  await Promise.all([startGateway(), startLocal()]);
  remote.driver = startDriver(nodes.build);
  await remote.driver.call({ op: 'ping' });
  // The first call of a configuration goes through the TypeScript client, which writes the table
  // the native stub reads (docs/native-stubs.md); the figures' calls must all be native.
  for (const where of ['remote', 'local']) {
    const first = await remote.driver.call({ op: 'run', ...stubRun(remote, where, 'true') });
    if (first.code !== 0) throw new Error(`the first ${where} call exited ${first.code}: ${first.stderr}`);
  }
  await sleep(options.settleMs);
  return remote;
}

// ---------------------------------------------------------------------------------------------
// Nodes: two namespaces and a veth pair between them.

function ip(...args) {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0)
    throw new Error(`ip ${args.join(' ')}: ${(result.stderr || result.error?.message || '').trim()}`);
}

function makeNodes() {
  sweepStale();
  const tools = { name: 'tools', netns: `${PREFIX}tools`, address: TOOLS_ADDRESS };
  const build = { name: 'build', netns: `${PREFIX}build`, address: BUILD_ADDRESS };
  const created = [];
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    for (const ns of created.reverse()) deleteNamespace(ns);
  };
  process.on('exit', cleanup);
  try {
    for (const node of [tools, build]) {
      ip('netns', 'add', node.netns);
      created.push(node.netns);
      ip('-n', node.netns, 'link', 'set', 'lo', 'up');
    }
    ip(
      '-n',
      tools.netns,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      build.netns,
    );
    for (const node of [tools, build]) {
      ip('-n', node.netns, 'addr', 'add', `${node.address}/30`, 'dev', 'eth0');
      ip('-n', node.netns, 'link', 'set', 'eth0', 'up');
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  return { tools, build, cleanup };
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

/** Namespaces of bench processes that no longer exist (SIGKILLed before their clean-up). */
function sweepStale() {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (listed.stdout ?? '').split('\n')) {
    const match = /^(k8b-(\d+)-\S+)/.exec(line);
    if (match && Number(match[2]) !== process.pid && !existsSync(`/proc/${match[2]}`))
      deleteNamespace(match[1]);
  }
}

/** `ip netns exec` execs its program (the child's pid is the program's); pdeathsig: it dies with us. */
function inNode(node, argv) {
  const guard = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
  return ['netns', 'exec', node.netns, ...guard, ...argv];
}

async function distinctPorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

// ---------------------------------------------------------------------------------------------
// Daemons: k8pshd (server, gateway, Pod-local) in a node, their log, their long-lived pid.

function daemonIn(node, argv, { cwd, env }) {
  const child = spawn('ip', inNode(node, argv), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let gone = false;
  const listeners = new Set();
  const notify = () => [...listeners].forEach((listener) => listener());
  child.stderr.on('data', (chunk) => {
    log += chunk.toString();
    notify();
  });
  const exited = new Promise((resolveExit) =>
    child.once('exit', () => {
      gone = true;
      notify();
      resolveExit();
    }),
  );
  return {
    log: () => log,
    /**
     * The process that serves: dist/k8pshd is a small front that execs the runtime, so the pid
     * is read where the server logs it rather than assumed to be the child's.
     */
    get pid() {
      const match = /"pid":(\d+)/.exec(log);
      return match ? Number(match[1]) : child.pid;
    },
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolveSeen, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${argv.join(' ')}: not seen within ${ms} ms: ${pattern}\n${log}`));
        }, ms);
        function check() {
          if (pattern.test(log) || gone) {
            clearTimeout(timer);
            listeners.delete(check);
            if (pattern.test(log)) resolveSeen();
            else reject(new Error(`${argv.join(' ')} exited before ${pattern}:\n${log}`));
          }
        }
        listeners.add(check);
        check();
      });
    },
    kill() {
      if (!gone) child.kill('SIGKILL');
    },
    async stop() {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Private (anonymous) resident memory of a process, MiB: what the memory goal counts. */
export const rssAnonMiB = (pid) => statusKiB(pid, 'RssAnon') / 1024;

/** CPU time (user + system, ms) a process has used so far, from /proc/PID/stat. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------------------------------------
// The driver in the build node: one JSON line a request, one a reply.

function startDriver(node) {
  const child = spawn('ip', inNode(node, [NODE, DRIVER]), { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting = new Map();
  let next = 0;
  let stderr = '';
  let gone = false;
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const reply = JSON.parse(line);
    const pending = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error) pending?.reject(new Error(reply.error));
    else pending?.resolve(reply.result);
  });
  child.on('exit', (code, signal) => {
    gone = true;
    for (const { reject } of waiting.values())
      reject(new Error(`the driver in the build node exited (${signal ?? code}): ${stderr}`));
    waiting.clear();
  });
  child.stdin.on('error', () => {});
  return {
    call(request) {
      if (gone) return Promise.reject(new Error(`the driver in the build node is gone: ${stderr}`));
      const id = next++;
      return new Promise((resolveCall, reject) => {
        waiting.set(id, { resolve: resolveCall, reject });
        child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
      });
    },
    close: () => child.stdin.end(),
    kill() {
      if (!gone) child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Certificates: a throwaway CA, the tools node's server certificate, the build node's client one.

function makeCertificates(pki, serverTls, clientTls) {
  mkdirSync(pki, { recursive: true });
  const file = (name) => join(pki, name);
  const openssl = (...args) => {
    const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
    if (result.status !== 0)
      throw new Error(`openssl ${args[0]} failed: ${result.stderr || result.error?.message}`);
  };
  const newKey = (key) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', key];
  openssl(
    'req',
    '-x509',
    '-new',
    ...newKey(file('ca.key')),
    '-subj',
    '/CN=k8psh bench CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    file('ca.crt'),
  );
  const leaf = (name, cn, usage, san) => {
    writeFileSync(
      file(`${name}.ext`),
      [
        '[leaf]',
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        `extendedKeyUsage = ${usage}`,
        `subjectAltName = ${san}`,
        '',
      ].join('\n'),
    );
    openssl('req', '-new', ...newKey(file(`${name}.key`)), '-subj', `/CN=${cn}`, '-out', file(`${name}.csr`));
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
      '-extensions',
      'leaf',
      '-out',
      file(`${name}.crt`),
    );
  };
  leaf('server', SERVER_NAME, 'serverAuth', `DNS:${SERVER_NAME}, IP:${TOOLS_ADDRESS}`);
  leaf('client', 'build', 'clientAuth', 'DNS:build.bench');
  const ca = readFileSync(file('ca.crt'));
  secretDir(serverTls, readFileSync(file('server.crt')), readFileSync(file('server.key')), ca);
  secretDir(clientTls, readFileSync(file('client.crt')), readFileSync(file('client.key')), ca);
  rmSync(file('ca.key'));
}

/** A mounted kubernetes.io/tls Secret as the kubelet lays it out: the files behind `..data`. */
function secretDir(target, crt, key, ca) {
  const payload = join(target, '..bench');
  mkdirSync(payload, { recursive: true });
  writeFileSync(join(payload, 'tls.crt'), crt);
  writeFileSync(join(payload, 'tls.key'), key, { mode: 0o600 });
  writeFileSync(join(payload, 'ca.crt'), ca);
  symlinkSync('..bench', join(target, '..data'));
  for (const name of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(join('..data', name), join(target, name));
}

/**
 * A remote figure: `measure(remote)` with this run's set-up, or `{ skipped: reason }` where
 * network namespaces or openssl are not available.
 */
export async function remoteFigure(ctx, measure) {
  const unsupported = remoteUnsupported();
  if (unsupported) return { skipped: `no simulated nodes here: ${unsupported}` };
  return measure(await remoteSetup(ctx));
}

/** The `{ file, args, env, cwd }` of a stub of `command` answered via `where` ('remote' or 'local'). */
export function stubRun(remote, where, command, args = [], env = {}) {
  return { file: remote.stub(command), args, env: { ...remote.stubEnv[where], ...env }, cwd: remote.work };
}

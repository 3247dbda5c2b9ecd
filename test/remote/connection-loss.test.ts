/**
 * A remote session whose connection goes away (issue 24): the server killed, the tools node cut off
 * the network, the stub killed. Either way the stub says so in one line and exits 255, the command's
 * process group on the tools node is ended, nothing is left waiting on either side, and once the
 * server or the link is back the next call works without restarting anything.
 *
 * The command writes its own pid and its child's into the workspace; the test checks those
 * processes on the tools node. The server runs as PID 1 of a PID namespace of its own, as it does
 * as a container's command, where its death ends everything it started.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SKIP_UNBUILT, sleep } from '../e2e/harness.js';
import { makeCluster, type Cluster } from './cluster.js';
import { nodesUnsupported, runIn } from './nodes.js';
import {
  allGone,
  collect,
  count,
  exitOf,
  hostPids,
  lines,
  pidsIn,
  running,
  waitForMore,
  waitUntil,
} from './processes.js';

const skip = SKIP_UNBUILT || nodesUnsupported();
const CONNECTED = /"msg":"connected to the server"/;

/** A command and its child, both long-lived, their pids in `name` in the workspace. */
const longCommand = (name: string): string => `sleep 300 & echo $$ $! > ${name}; echo started; wait`;

/**
 * Starts `sh -c script` through a stub and returns it once running (it printed "started"), with the
 * pids it wrote into `name` as this side sees them.
 */
async function startLong(cluster: Cluster, name: string, script = longCommand(name)) {
  const stub = cluster.spawnStub('sh', ['-c', script]);
  const out = collect(stub, 'stdout');
  const err = collect(stub, 'stderr');
  const exit = exitOf(stub);
  await Promise.race([
    waitUntil(out, /^started\n$/),
    exit.then((e) => {
      throw new Error(`the stub ended first (${e.code}): ${err()}`);
    }),
  ]);
  const pids = hostPids(cluster.server.pid(), await pidsIn(join(cluster.buildWorkspace, name)));
  return { stub, out, err, exit, pids };
}

const LOST = (cluster: Cluster): RegExp =>
  new RegExp(
    `^k8psh: connection to server tools at tools\\.test:${cluster.port} was lost before the command finished`,
  );

t.test('the server killed mid-session', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', serverPidNamespace: true });
  const long = await startLong(cluster, 'pids-a');
  t.ok(long.pids.every(running), 'the command and its child run on the tools node');
  const killedAt = Date.now();
  process.kill(cluster.server.pid(), 'SIGKILL');
  const exit = await long.exit;
  t.equal(exit.code, 255, 'the stub exits 255');
  t.ok(exit.at - killedAt < 5000, `within 5 s (${exit.at - killedAt} ms)`);
  t.equal(lines(long.err()).length, 1, 'one line on stderr', { stderr: long.err() });
  t.match(long.err(), LOST(cluster));
  t.equal(long.out(), 'started\n');
  t.ok(await allGone(long.pids, 5000), 'no process of the session is left on the tools node');
  t.equal(cluster.gateway!.process.exitCode, null, 'the gateway runs on');

  // The server comes back: the gateway reconnects by itself and the next call is served.
  const connected = count(cluster.gateway!, CONNECTED);
  await cluster.server.exited;
  await cluster.startServer();
  await waitForMore(cluster.gateway!, CONNECTED, connected);
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
});

t.test('the server killed mid-session, no gateway (the client connects itself)', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', serverPidNamespace: true, gateway: false });
  const long = await startLong(cluster, 'pids-direct');
  process.kill(cluster.server.pid(), 'SIGKILL');
  const exit = await long.exit;
  t.equal(exit.code, 255);
  t.same(lines(long.err()), ['k8psh: connection to the server was lost before the command finished']);
  t.ok(await allGone(long.pids, 5000), 'no process of the session is left on the tools node');
  await cluster.server.exited;
  await cluster.startServer();
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
});

t.test('the network cut: PINGs unanswered end the session on both sides', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  const long = await startLong(cluster, 'pids-b');
  const ip = (state: 'up' | 'down') =>
    runIn(cluster.tools, ['ip', 'link', 'set', 'eth0', state]).then((r) =>
      t.equal(r.code, 0, `eth0 ${state}`),
    );
  const cutAt = Date.now();
  await ip('down');
  const exit = await long.exit;
  // PING_INTERVAL_MS + PING_TIMEOUT_MS at most (src/remote/constants.ts), and some slack.
  t.equal(exit.code, 255, 'the stub exits 255');
  t.ok(exit.at - cutAt < 20000, `within 20 s (${exit.at - cutAt} ms)`);
  t.equal(lines(long.err()).length, 1, 'one line on stderr', { stderr: long.err() });
  t.match(long.err(), LOST(cluster));
  t.match(long.err(), /\(.+\)$/m, 'with the reason');
  // The server's own PINGs go unanswered as well: it ends the command without hearing from anyone.
  t.ok(await allGone(long.pids, 20000 - (Date.now() - cutAt) + 2000), 'the command and its child are ended');
  await cluster.server.waitFor(/client stopped answering: ending its sessions/, 1000);
  await cluster.server.waitFor(/client gone: ending its command/, 1000);

  const connected = count(cluster.gateway!, CONNECTED);
  await ip('up');
  await waitForMore(cluster.gateway!, CONNECTED, connected, 15000);
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
});

t.test('the stub killed: SIGTERM to the process group, SIGKILL 2 s later', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n' });
  // The command notes SIGTERM and goes on; its child ignores it: only the SIGKILL ends them.
  const log = join(cluster.buildWorkspace, 'term-c');
  const long = await startLong(
    cluster,
    'pids-c',
    `trap 'echo TERM >> term-c' TERM; (trap '' TERM; exec sleep 300) & echo $$ $! > pids-c; echo started; while :; do wait; done`,
  );
  long.stub.kill('SIGKILL');
  const killedAt = Date.now();
  await long.exit;
  await cluster.server.waitFor(/client gone: ending its command/, 5000);
  await sleep(Math.max(0, 1000 - (Date.now() - killedAt)));
  t.ok(long.pids.every(running), 'both still run 1 s later (SIGTERM only so far)');
  t.ok(await allGone(long.pids, 6000), 'both ended (SIGKILL)');
  const goneAt = Date.now() - killedAt;
  t.ok(goneAt >= 1900, `not before the grace of 2 s (${goneAt} ms)`);
  t.match(readFileSync(log, 'utf8'), /^TERM\n/, 'the command had SIGTERM first');

  // And a command that does not resist ends at once.
  const plain = await startLong(cluster, 'pids-c2');
  plain.stub.kill('SIGKILL');
  const at = Date.now();
  t.ok(await allGone(plain.pids, 1500), `a plain command ends on SIGTERM (${Date.now() - at} ms)`);
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
});

t.test('the client killed, no gateway: its TLS connection closes, the command ends', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', gateway: false });
  const long = await startLong(cluster, 'pids-direct-c');
  long.stub.kill('SIGKILL');
  await long.exit;
  t.ok(await allGone(long.pids, 3000), 'the command and its child are ended');
  await cluster.server.waitFor(/client gone: ending its command/, 1000);
  const again = await cluster.stub('sh', ['-c', 'echo again']);
  t.same([again.code, again.out, again.err], [0, 'again\n', '']);
});

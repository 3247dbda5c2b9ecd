/**
 * The start's confirmation on the wire (docs/remote.md, "Exactly once"), spoken by hand
 * (./raw-session.mjs) from the build node: a client that asks gets START_READY for a complete request
 * and nothing runs until its START_GO; one that cancels at START_READY has run nothing; one that
 * does not ask is served as before, and START_GO from it is an unknown frame. A draining server
 * refuses a session still sending its request with REFUSED_STREAM (nothing ran: go elsewhere) and
 * runs one it had answered START_READY when its START_GO comes, then exits.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SKIP_UNBUILT, sleep } from '../e2e/harness.js';
import { makeCluster, TOOLS_NAME, type Cluster } from './cluster.js';
import { nodesUnsupported, runIn, spawnIn } from './nodes.js';

const CLIENT = fileURLToPath(new URL('./raw-session.mjs', import.meta.url));
const REFUSED_STREAM = 7;

interface Outcome {
  ready: boolean;
  exit: number | null;
  stdout: string;
  stderr: string;
  confirmed: string | null;
  rstCode: number | null;
}

function argv(cluster: Cluster, mode: string, marker: string): string[] {
  return [
    process.execPath,
    CLIENT,
    `${cluster.tools.address}:${cluster.port}`,
    cluster.clientTls,
    TOOLS_NAME,
    mode,
    'sh',
    '-c',
    `echo ran >> ${marker}; echo out`,
  ];
}

async function session(cluster: Cluster, mode: string, marker: string): Promise<Outcome> {
  const result = await runIn(cluster.build, argv(cluster, mode, marker), { timeoutMs: 15000 });
  return JSON.parse(result.out.trim().split('\n').pop()!) as Outcome;
}

const runs = (cluster: Cluster, marker: string): number => {
  const file = join(cluster.buildWorkspace, marker);
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
};

const skip = SKIP_UNBUILT || nodesUnsupported();

t.test('START_READY, then nothing runs until START_GO', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', gateway: false });

  const go = await session(cluster, 'go', 'ran-go');
  t.match(go, { ready: true, confirmed: 'confirm', exit: 0, stdout: 'out\n' }, 'asked: READY, GO, run');
  t.equal(runs(cluster, 'ran-go'), 1, 'run once');

  const nogo = await session(cluster, 'nogo', 'ran-nogo');
  t.match(nogo, { ready: true, exit: null }, 'cancelled at START_READY');
  await sleep(500);
  t.equal(runs(cluster, 'ran-nogo'), 0, 'nothing ran');

  const plain = await session(cluster, 'plain', 'ran-plain');
  t.match(plain, { ready: false, confirmed: null, exit: 0, stdout: 'out\n' }, 'not asked: run at once');
  t.equal(runs(cluster, 'ran-plain'), 1, 'run once');

  const unasked = await session(cluster, 'go-unasked', 'ran-unasked');
  t.match(unasked, { exit: 1, stderr: /unknown frame type 97/ }, 'START_GO without asking: refused');
  t.equal(runs(cluster, 'ran-unasked'), 0, 'nothing ran');
});

t.test('draining: not taken yet is refused (REFUSED_STREAM), taken is run', { skip }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'sh\n', gateway: false });
  const start = (mode: string, marker: string, first: string) => {
    const child = spawnIn(cluster.build, argv(cluster, mode, marker), { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! });
    const seen = new Promise<void>((resolve) => lines.on('line', (line) => line === first && resolve()));
    const outcome = new Promise<Outcome>((resolve) =>
      lines.on('line', (line) => line.startsWith('{') && resolve(JSON.parse(line) as Outcome)),
    );
    return { child, seen, outcome };
  };
  const held = start('hold', 'ran-held', 'ready');
  const partial = start('partial', 'ran-partial', 'sent');
  await Promise.all([held.seen, partial.seen]);
  await sleep(200);
  cluster.server.process.kill('SIGTERM');
  await cluster.server.waitFor(/"msg":"shutting down"/);
  const refused = await partial.outcome;
  t.equal(refused.rstCode, REFUSED_STREAM, 'the request in progress: REFUSED_STREAM');
  t.equal(refused.exit, null, 'no exit code');
  await sleep(300);
  t.equal(cluster.server.process.exitCode, null, 'the server waits for the session it took');
  held.child.stdin!.write('go\n');
  const taken = await held.outcome;
  t.match(taken, { ready: true, exit: 0, stdout: 'out\n' }, 'START_GO after SIGTERM: run');
  t.equal(runs(cluster, 'ran-held'), 1, 'run once');
  t.equal(runs(cluster, 'ran-partial'), 0, 'the refused one never ran');
  t.equal(await cluster.server.exited, 0, 'then the server exits 0');
});

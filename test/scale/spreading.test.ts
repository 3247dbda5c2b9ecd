/**
 * The gateway spreads sessions over a headless Service's replicas (docs/cluster.md): concurrent
 * sessions go to the replica running the fewest, sessions one after another go round, a replica that
 * appears in DNS takes sessions within seconds, one that leaves DNS gets none, and every session ran
 * exactly once (counted on the tools side).
 */
import t from 'tap';
import { sleep } from '../e2e/harness.js';
import { makeScaleCluster, scaleUnsupported, type ScaleCluster } from './replicas.js';

const skip = scaleUnsupported();

/** `n` sessions at once, each holding its replica `seconds`; their exit codes. */
async function together(
  cluster: ScaleCluster,
  n: number,
  seconds: number,
  tag: string,
): Promise<(number | null)[]> {
  const runs = Array.from({ length: n }, (_, i) =>
    cluster.stub('sh', ['-c', `sleep ${seconds}; echo ${tag}-${i}`]),
  );
  return (await Promise.all(runs)).map((result) => result.code);
}

/** Executions of `tag`'s sessions per replica. */
function perReplica(cluster: ScaleCluster, tag: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [replica, list] of Object.entries(cluster.executions()))
    counts[replica] = list.filter((entry) => entry.args.join(' ').includes(`${tag}-`)).length;
  return counts;
}

t.test('sessions spread over the replicas, and follow DNS', { skip }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 3, nodes: 4 });

  t.same(await together(cluster, 12, 0.6, 'a'), Array(12).fill(0), '12 concurrent sessions succeed');
  const a = perReplica(cluster, 'a');
  t.same(
    [a['tools-0'], a['tools-1'], a['tools-2']],
    [4, 4, 4],
    `the fewest running: 4 on each (${JSON.stringify(a)})`,
  );

  for (let i = 0; i < 6; i++) t.equal((await cluster.stub('sh', ['-c', `echo b-${i}`])).code, 0);
  const b = perReplica(cluster, 'b');
  t.ok(
    ['tools-0', 'tools-1', 'tools-2'].every((name) => (b[name] ?? 0) >= 1),
    `one after another, they go round (${JSON.stringify(b)})`,
  );

  // Scale up: a fourth replica, published in DNS once ready, takes sessions within seconds.
  await cluster.startReplica(3);
  const joined = Date.now();
  let c: Record<string, number>;
  for (let round = 0; ; round++) {
    t.same(await together(cluster, 8, 0.3, `c${round}`), Array(8).fill(0));
    c = perReplica(cluster, `c${round}`);
    if ((c['tools-3'] ?? 0) > 0 || Date.now() - joined > 10000) break;
  }
  t.ok((c['tools-3'] ?? 0) >= 2, `the new replica takes its share (${JSON.stringify(c)})`);
  t.ok(Date.now() - joined < 10000, `within seconds (${Date.now() - joined} ms)`);

  // Scale down: tools-1 leaves DNS; once the gateway has looked again, nothing more goes there.
  await cluster.publish([0, 2, 3]);
  await sleep(3000);
  t.same(await together(cluster, 9, 0.3, 'd'), Array(9).fill(0));
  const d = perReplica(cluster, 'd');
  t.equal(d['tools-1'] ?? 0, 0, `none on the replica gone from DNS (${JSON.stringify(d)})`);
  t.same([d['tools-0'], d['tools-2'], d['tools-3']], [3, 3, 3], 'the others share them');

  // Every session ran exactly once.
  const all = Object.values(cluster.executions()).flat();
  const tags = all.map((entry) => entry.args.join(' ').match(/echo (\S+)/)?.[1]).filter(Boolean);
  t.equal(new Set(tags).size, tags.length, 'no session ran twice');
});

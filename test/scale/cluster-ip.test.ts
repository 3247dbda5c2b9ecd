/**
 * Clients without a gateway reach the replicas through a ClusterIP (kube-proxy's iptables rules,
 * ./cluster-ip.ts): each call is a connection of its own, spread at random. While a replica drains
 * and is still among the rules (Kubernetes removes the endpoint a moment later), a connection sent
 * there is refused and the client connects again, landing elsewhere: every call succeeds, once,
 * and the drained replica finishes what it was running.
 */
import t from 'tap';
import { sleep } from '../e2e/harness.js';
import { directConfig, makeScaleCluster, scaleUnsupported } from './replicas.js';

t.test('through the ClusterIP while a replica drains', { skip: scaleUnsupported() }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 3 });
  const env = { ...cluster.env, K8PSH_CONFIG: directConfig(cluster) };

  // One long session on each replica (the gateway spreads them), then tools-0 drains.
  const long = Promise.all([0, 1, 2].map((i) => cluster.stub('sh', ['-c', `sleep 3; echo long-${i}`])));
  await sleep(700);
  const drained = cluster.kill(0, 'SIGTERM');
  await sleep(200);
  const calls = await Promise.all(
    Array.from({ length: 8 }, (_, i) => cluster.stub('sh', ['-c', `echo direct-${i}`], { env })),
  );
  t.same(
    calls.map((call) => [call.code, call.out, call.err]),
    Array.from({ length: 8 }, (_, i) => [0, `direct-${i}\n`, '']),
    'every call through the ClusterIP succeeded',
  );
  const direct0 = Object.values(cluster.executions())
    .flat()
    .filter((entry) => /direct-/.test(entry.args.join(' ')));
  t.equal(direct0.length, 8, 'each ran once');
  t.notOk(
    direct0.some((entry) => entry.replica === 'tools-0'),
    'none on the draining replica',
  );
  t.same(
    (await long).map((result) => result.code),
    [0, 0, 0],
    'the long sessions finished, the drained one included',
  );
  t.equal(await drained, 0, 'the drained replica exited 0');
});

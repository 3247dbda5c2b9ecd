/**
 * A real C build spread over a tools Deployment (issue 25): `make -j6` on the build node, every
 * compile a `cc` stub through the gateway, while a replica is drained (SIGTERM: a rolling update),
 * added (scale-up), or SIGKILLed. Drained or added, the build succeeds with objects identical to a
 * local build and every unit compiled exactly once; killed, only compiles running on that replica
 * fail, each with its one line naming it, and none ran twice (executions counted on the tools side).
 */
import t, { type Test } from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, tempDir } from '../e2e/harness.js';
import { differences, make, outputs, writeCProject, type CProject } from './c-project.js';
import { makeScaleCluster, scaleUnsupported, type ScaleCluster } from './replicas.js';

const skip = scaleUnsupported();

/** The same project built here with the local gcc, once per size: the bytes a remote build must give. */
const local = new Map<number, Promise<Map<string, Buffer>>>();
async function expected(units: number): Promise<Map<string, Buffer>> {
  let cached = local.get(units);
  if (!cached) {
    cached = (async () => {
      const dir = tempDir('k8psh-scale-ref-');
      const project = writeCProject(dir, { cc: 'gcc', units });
      const result = await make(project, { jobs: 2 });
      if (result.code !== 0) throw new Error(`local build failed: ${result.err}`);
      return outputs(project);
    })();
    local.set(units, cached);
  }
  return cached;
}

/** Compiles of each source over all replicas: `src/u3.c` → ['tools-1']. */
function compiles(cluster: ScaleCluster): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const [replica, list] of Object.entries(cluster.executions()))
    for (const entry of list) {
      const source = entry.args.find((arg) => arg.endsWith('.c'));
      if (source) found.set(source, [...(found.get(source) ?? []), replica]);
    }
  return found;
}

/** Resolves once `replica` has run at least `n` commands. */
async function ranOn(cluster: ScaleCluster, replica: string, n: number, ms = 60000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((cluster.executions()[replica]?.length ?? 0) < n) {
    if (Date.now() > deadline) throw new Error(`${replica} ran fewer than ${n} commands in ${ms} ms`);
    await sleep(10);
  }
}

function project(cluster: ScaleCluster, name: string, units: number): CProject {
  return writeCProject(join(cluster.buildWorkspace, name), { cc: join(cluster.bin, 'cc'), units });
}

function once(t: Test, cluster: ScaleCluster, built: CProject): void {
  const counted = compiles(cluster);
  const twice = [...counted].filter(([, replicas]) => replicas.length > 1);
  t.same(twice, [], 'no unit compiled twice');
  t.equal(counted.size, built.sources, `every unit compiled (${counted.size} of ${built.sources})`);
}

t.test('a replica drained mid-build (SIGTERM): the build succeeds, nothing lost', { skip }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 3 });
  const built = project(cluster, 'drain', 48);
  const build = make(built, { node: cluster.build, env: cluster.env });
  await ranOn(cluster, 'tools-1', 2);
  const drained = cluster.kill(1, 'SIGTERM');
  // Kubernetes takes the endpoint out once readiness fails.
  await sleep(500);
  await cluster.publish([0, 2]);
  const result = await build;
  t.equal(result.code, 0, 'make succeeds', { stderr: result.err });
  t.equal(result.err, '', 'nothing on stderr');
  t.equal(await drained, 0, 'the drained replica exits 0');
  t.match(
    cluster.replicas[1]!.stderr(),
    /"sessions":[1-9]\d*,"msg":"shutting down"/,
    'it was running sessions',
  );
  t.same(differences(outputs(built), await expected(48)), [], 'objects identical to a local build');
  once(t, cluster, built);
});

t.test('a replica added mid-build: it takes compiles, the build succeeds', { skip }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 2, nodes: 3 });
  const built = project(cluster, 'grow', 72);
  const build = make(built, { node: cluster.build, env: cluster.env });
  await ranOn(cluster, 'tools-0', 2);
  await cluster.startReplica(2);
  const result = await build;
  t.equal(result.code, 0, 'make succeeds', { stderr: result.err });
  t.ok((cluster.executions()['tools-2']?.length ?? 0) > 0, 'the new replica compiled some');
  t.same(differences(outputs(built), await expected(72)), [], 'objects identical to a local build');
  once(t, cluster, built);
});

t.test('a replica SIGKILLed mid-build: only its compiles fail, each with one line', { skip }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 3 });
  const built = project(cluster, 'kill', 48);
  const build = make(built, { node: cluster.build, env: cluster.env, targets: ['-k'] });
  await ranOn(cluster, 'tools-0', 2);
  const ranBefore = new Set(cluster.executions()['tools-0']!.map((entry) => entry.pid));
  await cluster.kill(0, 'SIGKILL');
  await sleep(500);
  await cluster.publish([1, 2]);
  const result = await build;
  const killedAt = `${cluster.tools[0]!.address}:${cluster.port}`;
  const lost = result.err.split('\n').filter((line) => line.startsWith('k8psh: '));
  t.ok(lost.length >= 1, `compiles running on the killed replica were lost (${lost.length})`);
  for (const line of lost)
    t.match(
      line,
      `was lost before the command finished: it had been handed to replica ${killedAt} and is not run again`,
      'one line naming the replica',
    );
  const counted = compiles(cluster);
  const twice = [...counted].filter(([, replicas]) => replicas.length > 1);
  t.same(twice, [], 'none ran twice');
  // The units make says failed (an object may still be there: gcc can have written it before the
  // kill, and make does not delete it), each once and only where the replica was killed.
  const failed = [...result.err.matchAll(/\[[^\]]*?(obj\/\S+\.o)\] Error 255/g)].map((match) => match[1]!);
  t.equal(failed.length, lost.length, `as many units failed as lines (${failed.join(' ')})`);
  for (const object of failed) {
    const source = `src/${object.slice(4, -2)}.c`;
    t.same(counted.get(source), ['tools-0'], `${source} had run on the killed replica only`);
    // As .DELETE_ON_ERROR would: what a killed compile left is not an object.
    rmSync(join(built.dir, object), { force: true });
  }
  t.ok(ranBefore.size >= 2, 'the kill came mid-build');
  // The failed units again, now on the replicas left.
  const again = await make(built, { node: cluster.build, env: cluster.env });
  t.equal(again.code, 0, 'make again succeeds', { stderr: again.err });
  t.same(differences(outputs(built), await expected(48)), [], 'objects identical to a local build');
});

t.test('a rolling update mid-build (surge 1, unavailable 0): no compile lost', { skip }, async (t) => {
  const cluster = await makeScaleCluster(t, { replicas: 3, nodes: 4 });
  const built = project(cluster, 'rollout', 120);
  const build = make(built, { node: cluster.build, env: cluster.env });
  await ranOn(cluster, 'tools-0', 2);
  // As the Deployment controller does: a new replica ready first, then an old one taken out of the
  // endpoints and sent SIGTERM; its node's replacement comes up, then the next old one goes.
  const steps: [number, number][] = [
    [3, 0],
    [0, 1],
  ];
  for (const [up, down] of steps) {
    await cluster.startReplica(up);
    const drained = cluster.kill(down, 'SIGTERM');
    await cluster.publish(cluster.published().filter((i) => i !== down));
    t.equal(await drained, 0, `tools-${down} drained and exited 0`);
  }
  const result = await build;
  t.equal(result.code, 0, 'make succeeds', { stderr: result.err });
  t.equal(result.err, '', 'nothing on stderr');
  t.same(differences(outputs(built), await expected(120)), [], 'objects identical to a local build');
  once(t, cluster, built);
  const late = cluster.executions()['tools-3']?.length ?? 0;
  t.ok(late > 0, `the surge replica compiled some (${late})`);
});

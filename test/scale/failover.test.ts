/**
 * Failover before the start (docs/remote.md, "Exactly once"): sessions the gateway placed on a
 * replica whose network was cut (it still looks connected until its PINGs go unanswered) had not
 * been taken there, so they go to another replica and succeed; none runs twice. The same replica's
 * sessions that were running when the cable went are lost, each with its one line.
 */
import t from 'tap';
import { sleep } from '../e2e/harness.js';
import { runIn } from '../remote/nodes.js';
import { makeScaleCluster, scaleUnsupported } from './replicas.js';

t.test(
  'sessions not taken by a cut-off replica go to the others',
  { skip: scaleUnsupported() },
  async (t) => {
    const cluster = await makeScaleCluster(t, { replicas: 3 });
    // One round first: each replica has answered once (so the gateway knows it confirms starts).
    for (let i = 0; i < 3; i++) t.equal((await cluster.stub('sh', ['-c', `echo warm-${i}`])).code, 0);

    // A session running on tools-0 when its cable goes: lost, one line, not run again.
    const running = Promise.all([0, 1, 2].map((i) => cluster.stub('sh', ['-c', `sleep 2; echo long-${i}`])));
    await sleep(500);
    const cut = await runIn(cluster.tools[0]!, ['ip', 'link', 'set', 'eth0', 'down']);
    t.equal(cut.code, 0, 'tools-0 cut off');
    // Placed while tools-0 still looks connected: the fewest running are there.
    const placed = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        cluster.stub('sh', ['-c', `echo moved-${i}`], { timeoutMs: 40000 }),
      ),
    );
    t.same(
      placed.map((result) => [result.code, result.err]),
      Array(6).fill([0, '']),
      'every session placed on the cut-off replica succeeded elsewhere',
    );
    const long = await running;
    const lostLong = long.filter((result) => result.code === 255);
    t.equal(lostLong.length, 1, 'the one running there was lost');
    t.match(
      lostLong[0]?.err ?? '',
      /^k8psh: connection to server tools at .* was lost before the command finished: it had been handed to replica [\d.]+:\d+ and is not run again \(.+\)\n$/,
      'in one line',
    );

    const executions = Object.values(cluster.executions()).flat();
    const moved = executions.filter((entry) => /moved-/.test(entry.args.join(' ')));
    t.equal(moved.length, 6, 'each ran exactly once');
    t.ok(
      moved.every((entry) => entry.replica !== 'tools-0'),
      'none on the cut-off replica',
    );
    t.match(
      cluster.gateway!.stderr(),
      /session not taken: sent to another replica/,
      'the gateway moved them',
    );
  },
);

t.test(
  'a replica cut off before it answered anything: its SETTINGS said it confirms',
  { skip: scaleUnsupported() },
  async (t) => {
    const cluster = await makeScaleCluster(t, { replicas: 2 });
    // The gateway connected to both; neither has served a session yet.
    for (const node of cluster.tools)
      await cluster.gateway!.waitFor(
        new RegExp(`"at":"${node.address}:\\d+","msg":"connected to the server"`),
      );
    t.equal(
      (await runIn(cluster.tools[0]!, ['ip', 'link', 'set', 'eth0', 'down'])).code,
      0,
      'tools-0 cut off',
    );
    const placed = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        cluster.stub('sh', ['-c', `echo first-${i}`], { timeoutMs: 40000 }),
      ),
    );
    t.same(
      placed.map((result) => [result.code, result.err]),
      Array(4).fill([0, '']),
      'the sessions placed there went to the other replica',
    );
    const ran = Object.values(cluster.executions())
      .flat()
      .filter((entry) => /first-/.test(entry.args.join(' ')));
    t.equal(ran.length, 4, 'each ran once');
    t.ok(
      ran.every((entry) => entry.replica === 'tools-1'),
      'on tools-1',
    );
    t.match(
      cluster.gateway!.stderr(),
      /session not taken: sent to another replica/,
      'the gateway moved them',
    );
  },
);

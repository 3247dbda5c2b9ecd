/**
 * A build Pod may start before the tools (docs/remote.md, "When it fails"): a call made while the
 * gateway cannot reach its server waits for it, up to the configuration's connectTimeoutMs (5 s in
 * the cluster's), as a client waits for a Pod-local server; past that, one line and exit 255.
 */
import t from 'tap';
import { SKIP_UNBUILT, sleep } from '../e2e/harness.js';
import { makeCluster } from './cluster.js';
import { nodesUnsupported } from './nodes.js';

t.test(
  'a call waits for a server that comes up, and gives up on one that does not',
  { skip: SKIP_UNBUILT || nodesUnsupported() },
  async (t) => {
    const cluster = await makeCluster(t, { commands: 'printf\n' });
    // The first call writes the table the native stub needs.
    t.equal((await cluster.stub('printf', ['x'])).code, 0);
    await cluster.server.stop();
    await cluster.gateway!.waitFor(/connection to the server failed/);

    const started = Date.now();
    const waiting = cluster.stub('printf', ['%s', 'late'], { env: { ...cluster.env, K8PSH_NATIVE: '1' } });
    await sleep(1500);
    await cluster.startServer();
    const late = await waiting;
    t.same([late.code, late.out, late.err], [0, 'late', ''], 'it ran once the server was up');
    t.ok(Date.now() - started >= 1500, 'it waited for it');

    await cluster.server.stop();
    const before = Date.now();
    const never = await cluster.stub('printf', ['x'], { env: { ...cluster.env, K8PSH_NATIVE: '1' } });
    const waited = Date.now() - before;
    t.equal(never.code, 255);
    t.match(
      never.err,
      /^k8psh: cannot reach server tools at tools\.test:\d+: connection refused\n$/,
      'one line',
    );
    t.ok(waited >= 4500 && waited < 15000, `gave up after connectTimeoutMs (${waited} ms)`);
  },
);

/**
 * A replica that breaks the start's confirmation (./fake-replica.mjs; docs/remote.md, "Exactly
 * once"): whatever it does, the stub gets one line and exit 255, the gateway holds no more than a
 * refusal's worth of its output, and a session is never sent again once START_GO went.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { SKIP_UNBUILT } from '../e2e/harness.js';
import { daemon, makeCluster, nodeEnv } from '../remote/cluster.js';
import { nodesUnsupported, spawnIn } from '../remote/nodes.js';

const FAKE = fileURLToPath(new URL('./fake-replica.mjs', import.meta.url));

t.test(
  'a replica breaking the confirmation: one line, exit 255',
  { skip: SKIP_UNBUILT || nodesUnsupported() },
  async (t) => {
    const cluster = await makeCluster(t, { commands: 'printf\n' });
    // The first call writes the table the native stub needs; then the real server gives way to a fake.
    t.equal((await cluster.stub('printf', ['x'])).code, 0);
    await cluster.server.stop();
    const fake = daemon(
      spawnIn(
        cluster.tools,
        [process.execPath, FAKE, `${cluster.tools.address}:${cluster.port}`, cluster.serverTls],
        {
          env: nodeEnv(),
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      ),
    );
    await fake.waitFor(/listening/);
    const call = async (mode: string) => {
      const result = await cluster.stub('printf', [mode]);
      return { code: result.code, out: result.out, err: result.err };
    };
    const lost = (reason: string) =>
      new RegExp(
        `^k8psh: connection to server tools at tools\\.test:\\d+ was lost before the command finished \\(${reason}\\)\\n$`,
      );

    t.match(
      await call('flood'),
      { code: 255, out: '', err: lost('protocol error from the server: output before START_READY') },
      'output before START_READY: refused, not kept',
    );
    t.match(
      await call('servergo'),
      { code: 255, err: lost('protocol error from the server: START_GO') },
      'START_GO from a server',
    );
    const gos = () => (fake.stderr().match(/^GO$/gm) ?? []).length;
    const before = gos();
    t.match(
      await call('twice'),
      {
        code: 255,
        err: /^k8psh: connection to server tools at .* was lost before the command finished: it had been handed to replica [\d.]+:\d+ and is not run again \(protocol error from the server: START_READY twice\)\n$/,
      },
      'START_READY twice',
    );
    t.match(
      await call('resetafter'),
      {
        code: 255,
        err: /^k8psh: connection to server tools at .* was lost before the command finished: it had been handed to replica [\d.]+:\d+ and is not run again \((stream reset \(HTTP\/2 error 2\)|the server ended the session without an exit code)\)\n$/,
      },
      'reset after START_GO: lost, named, not sent again',
    );
    t.equal(gos() - before, 2, 'one START_GO for each: never sent again');
    t.match(
      await call('refused'),
      {
        code: 255,
        err: /^k8psh: cannot reach server tools at tools\.test:\d+: no replica took the session \(the last, [\d.]+:\d+: stream refused unprocessed \(REFUSED_STREAM: the server is draining\)\)\n$/,
      },
      'refused everywhere: one line',
    );
    t.match(
      await call('noecho'),
      {
        code: 255,
        err: /^k8psh: connection to server tools at .* was lost before the command finished: it had been handed to replica [\d.]+:\d+ and is not run again \(the server ended the session without an exit code\)\n$/,
      },
      'no echo: the server’s from its answer on, never sent again',
    );
    t.equal(gos() - before, 2, 'no START_GO to a server that did not ask');
  },
);

/**
 * The suite's small soak (issue 7 §4; the large one is `npm run soak`):
 * 300 sequential sessions through in-process protocol clients (new and
 * original framing alternating), 20 sequential sessions through real stub
 * executables, then 100 at once: 25 stubs and 75 in-process clients (100
 * stubs take ~25 s on this 2-core machine, too much for the suite); every
 * output checked byte for byte; no descriptor, zombie or memory growth on
 * the server.
 */
import t from 'tap';
import { cleanup, freePort } from '../e2e/harness.js';
import { MiB, RSS_LIMIT, SKIP_UNBUILT } from './harness.js';
import {
  concurrent,
  health,
  rawSession,
  sequential,
  settle,
  startSoakServer,
  stubSession,
} from '../soak/lib.js';

t.test('small soak', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const { ws, server, pid } = await startSoakServer(port);
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  // Warm-up: lazy initialisation (logger, spawn machinery) is not growth.
  t.same(await sequential(20, (id) => rawSession(port, id)), [], 'warm-up');
  t.same(await concurrent(20, (id) => rawSession(port, id), 100), [], 'warm-up, concurrent');
  const base = await settle(pid, 0, 2000);
  t.comment(`baseline: ${base.fds} fds, RSS ${(base.rss / MiB).toFixed(1)} MiB`);

  t.test('300 sequential sessions (in-process clients)', async (t) => {
    const started = Date.now();
    const failed = await sequential(300, (id) => rawSession(port, id), undefined, 1000);
    t.same(failed, [], 'every output exact');
    const now = await settle(pid, base.fds);
    t.comment(`${Date.now() - started} ms; ${now.fds} fds, RSS ${(now.rss / MiB).toFixed(1)} MiB`);
    t.equal(now.fds, base.fds, 'no descriptor growth');
    t.same(now.zombies, [], 'no zombies');
  });

  t.test('20 sequential sessions through stubs', async (t) => {
    t.same(await sequential(20, (id) => stubSession(ws, id), undefined, 2000), [], 'every output exact');
  });

  t.test('100 concurrent sessions: 25 through stubs, 75 in-process', async (t) => {
    const started = Date.now();
    const failed = await concurrent(
      100,
      (id) => (id % 4 === 0 ? stubSession(ws, id) : rawSession(port, id)),
      3000,
    );
    t.same(failed, [], 'every output exact');
    const now = await settle(pid, base.fds);
    t.comment(`${Date.now() - started} ms; ${now.fds} fds, RSS ${(now.rss / MiB).toFixed(1)} MiB`);
    t.equal(now.fds, base.fds, 'no descriptor growth');
    t.same(now.zombies, [], 'no zombies');
  });

  t.test('memory', async (t) => {
    const now = health(pid);
    t.ok(now.rss < RSS_LIMIT, `RSS ${(now.rss / MiB).toFixed(1)} MiB < 150 MiB`);
    t.ok(
      now.rss - base.rss < 40 * MiB,
      `RSS growth ${((now.rss - base.rss) / MiB).toFixed(1)} MiB over the warm baseline`,
    );
    t.notMatch(server.stderr(), /internal error|"level":50/, 'no error logged');
  });
});

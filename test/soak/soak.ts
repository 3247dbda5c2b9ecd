/**
 * The large soak (issue 7 §4), `npm run soak` (tap, no time limit; loopback
 * only). Against one server:
 *  - 5000 sequential sessions through in-process protocol clients (stubs cost
 *    ~100-200 ms of start-up each here; new and original framing alternate),
 *  - 500 concurrent in-process sessions,
 *  - 200 sequential and 100 concurrent sessions through real stubs,
 * every output checked byte for byte (test/soak/lib.ts); the server's
 * descriptors (/proc/PID/fd), zombie children (/proc/ * /stat, state Z, ppid =
 * server) and RSS (VmRSS) sampled: no growth.
 *
 * Sizes can be changed for a quick try: SOAK_SEQUENTIAL, SOAK_CONCURRENT,
 * SOAK_STUBS (sequential stub sessions; half as many concurrent ones).
 */
import t from 'tap';
import { cleanup, freePort } from '../e2e/harness.js';
import { MiB, RSS_LIMIT, SKIP_UNBUILT } from '../hostile/harness.js';
import { concurrent, health, rawSession, sequential, settle, startSoakServer, stubSession } from './lib.js';

const SEQUENTIAL = Number(process.env.SOAK_SEQUENTIAL ?? 5000);
const CONCURRENT = Number(process.env.SOAK_CONCURRENT ?? 500);
const STUBS = Number(process.env.SOAK_STUBS ?? 200);
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

t.test('soak', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const { ws, server, pid } = await startSoakServer(port);
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  t.same(await sequential(50, (id) => rawSession(port, id)), [], 'warm-up');
  t.same(await concurrent(50, (id) => rawSession(port, id), 100), [], 'warm-up, concurrent');
  const base = await settle(pid, 0, 2000);
  t.comment(`baseline: ${base.fds} fds, RSS ${mib(base.rss)}`);
  const samples: number[] = [];

  t.test(`${SEQUENTIAL} sequential sessions (in-process clients)`, async (t) => {
    const started = Date.now();
    const failed = await sequential(
      SEQUENTIAL,
      (id) => rawSession(port, id),
      (done) => {
        const now = health(pid);
        samples.push(now.rss);
        t.comment(
          `${done}: ${Date.now() - started} ms, ${now.fds} fds, RSS ${mib(now.rss)}, zombies ${now.zombies.length}`,
        );
      },
      10_000,
    );
    t.same(failed.slice(0, 20), [], `every output exact (${failed.length} failed)`);
    const now = await settle(pid, base.fds);
    t.equal(now.fds, base.fds, 'no descriptor growth');
    t.same(now.zombies, [], 'no zombies');
    // Growth, not level: the second half of the run against the first.
    const firstHalf = Math.max(...samples.slice(0, samples.length / 2));
    const secondHalf = Math.max(...samples.slice(samples.length / 2));
    t.ok(
      secondHalf - firstHalf < 16 * MiB,
      `RSS: first half peak ${mib(firstHalf)}, second half peak ${mib(secondHalf)}`,
    );
    t.comment(`${SEQUENTIAL} sessions in ${Date.now() - started} ms`);
  });

  t.test(`${CONCURRENT} concurrent sessions (in-process clients)`, async (t) => {
    for (let round = 0; round < 3; round++) {
      const started = Date.now();
      const failed = await concurrent(CONCURRENT, (id) => rawSession(port, id), 100_000 + round * CONCURRENT);
      t.same(failed.slice(0, 20), [], `round ${round + 1}: every output exact (${failed.length} failed)`);
      const now = await settle(pid, base.fds);
      t.equal(now.fds, base.fds, `round ${round + 1}: no descriptor growth`);
      t.same(now.zombies, [], `round ${round + 1}: no zombies`);
      t.comment(`round ${round + 1}: ${Date.now() - started} ms, RSS ${mib(now.rss)}`);
    }
  });

  t.test(`${STUBS} sequential and ${STUBS / 2} concurrent sessions through stubs`, async (t) => {
    let started = Date.now();
    t.same(
      await sequential(STUBS, (id) => stubSession(ws, id), undefined, 200_000),
      [],
      'sequential: every output exact',
    );
    t.comment(`sequential stubs: ${Date.now() - started} ms`);
    started = Date.now();
    t.same(
      await concurrent(STUBS / 2, (id) => stubSession(ws, id), 300_000),
      [],
      'concurrent: every output exact',
    );
    t.comment(`concurrent stubs: ${Date.now() - started} ms`);
    const now = await settle(pid, base.fds);
    t.equal(now.fds, base.fds, 'no descriptor growth');
    t.same(now.zombies, [], 'no zombies');
  });

  t.test('the server afterwards', async (t) => {
    const now = health(pid);
    t.ok(now.rss < RSS_LIMIT, `RSS ${mib(now.rss)} < 150 MiB (baseline ${mib(base.rss)})`);
    t.notMatch(server.stderr(), /internal error|"level":50/, 'no error logged');
    t.equal(await server.stop(), 0, 'stops cleanly');
  });
});

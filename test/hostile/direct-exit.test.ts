/**
 * How the server learns that a command on passed descriptors ended (src/server/direct-child.ts): from
 * the child's pidfd, each child on its own, not from SIGCHLD (libuv's signal pipe, then a listener
 * asking every running child). Many direct commands at once, each ending with its own exit code at
 * its own time, are all reported right; and while they run the server holds a pidfd for each, so
 * the pidfd is what tells it. (The server does listen for SIGCHLD, for orphans: src/server/orphans.ts.)
 */
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import t from 'tap';
import { syscalls, syscallsFailure } from '../../src/native/syscalls.js';
import { encodeRequest } from '../../src/protocol/client-session.js';
import { CLIENT_FEATURES, Feature } from '../../src/protocol/constants.js';
import { cleanup, freePort } from '../e2e/harness.js';
import { converseLocal, makeWorkspace, SKIP_UNBUILT, startServer, T } from './harness.js';

const native = syscalls();
const SKIP = SKIP_UNBUILT || (native ? false : `no syscalls addon: ${syscallsFailure()}`);

/** How many pidfds `pid` holds (a pidfd's link reads anon_inode:[pidfd]). */
function pidfds(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[pidfd]') count++;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}

t.test('direct commands: every exit seen, each through its pidfd', { skip: SKIP }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(`[ srv:${port} ]\nexiting /bin/sh -c 'sleep "0.$1"; exit "$1"' sh\n`);
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  const pid = server.process.pid!;
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const devNull = [openSync('/dev/null', 'r'), openSync('/dev/null', 'w'), openSync('/dev/null', 'w')];
  t.teardown(() => devNull.forEach((fd) => closeSync(fd)));
  const codes = Array.from({ length: 40 }, (_, i) => (i * 7) % 10);
  let mostPidfds = 0;
  const sampler = setInterval(() => (mostPidfds = Math.max(mostPidfds, pidfds(pid))), 20);
  t.teardown(() => clearInterval(sampler));
  const results = await Promise.all(
    codes.map((code) =>
      converseLocal(
        port,
        encodeRequest({
          hello: true,
          features: CLIENT_FEATURES | Feature.PASSED_STDIO,
          tty: null,
          workingDirectory: '',
          arguments: [String(code)],
          environment: [],
          command: 'exiting',
        }),
        { fds: devNull },
      ),
    ),
  );
  t.same(
    results.map((r) => r.frames.find((frame) => frame.type === T.EXIT_CODE)?.value),
    codes,
    'each its own exit code',
  );
  clearInterval(sampler);
  t.ok(mostPidfds > 0, `the server watched their pidfds (${mostPidfds} at once)`);
});

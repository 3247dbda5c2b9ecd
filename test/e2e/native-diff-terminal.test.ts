/**
 * Exactness of the native stub in a terminal (issue 15): a stub typed at a shell prompt passes the
 * terminal itself (docs/terminals.md) and adds the caller's TERM to the request. Each way
 * (test/lib/ways.ts) must put the same bytes on the wire (test/lib/request-server.ts), with and
 * without TERM, and end with the server's exit code; K8PSH_NATIVE=1 must not refuse.
 */
import { realpathSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, cleanup, freePort, SKIP_UNBUILT, tempDir, writeFile } from './harness.js';
import { terminal } from './terminal.js';
import { parseFrames } from '../lib/frames.mjs';
import { startRequestServer } from '../lib/request-server.js';
import { nativeBuilt, wayEnv, WAYS, type Way } from '../lib/ways.js';

t.test('a stub in a terminal: the same request each way', { skip: SKIP_UNBUILT }, async (t) => {
  const native = await nativeBuilt();
  const dir = realpathSync(tempDir('k8psh-diff-tty-'));
  const port = await freePort();
  const config = writeFile(join(dir, 'k8psh.conf'), `connectTimeoutMs = 2000\n[ srv:${port} ]\ncc LANG=\n`);
  mkdirSync(join(dir, 'bin'));
  symlinkSync(BIN, join(dir, 'bin', 'cc'));
  const server = await startRequestServer(port, 7);
  t.teardown(async () => {
    await server.close();
    cleanup(dir);
  });

  // node-pty sets TERM to its own terminal name: `env TERM=...` sets another one.
  for (const term of ['xterm-256color', 'dumb']) {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      K8PSH_CONFIG: config,
      K8PSH_CACHE_DIR: join(dir, 'cache'),
      LANG: 'C.UTF-8',
    };
    const requests = new Map<Way, string>();
    for (const way of WAYS) {
      const session = terminal('env', [`TERM=${term}`, join(dir, 'bin', 'cc'), '-c', 'x y'], {
        env: wayEnv(way, env),
        cwd: dir,
      });
      const { exitCode } = await session.exit;
      t.equal(
        exitCode,
        7,
        `TERM=${term}, ${way}: the server's exit code (${JSON.stringify(session.output())})`,
      );
      const taken = server.take();
      t.equal(taken.length, 1, `${way}: one request`);
      t.equal(taken[0]?.fds, 3, `${way}: the terminal passed as stdin, stdout, stderr`);
      requests.set(way, taken[0]?.bytes.toString('hex') ?? '');
    }
    t.equal(requests.get('first'), requests.get('ts'), `TERM=${term}: the default way sends the same bytes`);
    t.equal(requests.get('native'), requests.get('ts'), `TERM=${term}: the native way sends the same bytes`);
    const frames = parseFrames(Buffer.from(requests.get('ts')!, 'hex')).frames;
    const variables = frames.filter((f) => f.type === 1).map((f) => f.payload!.toString());
    t.same(variables, ['LANG=C.UTF-8', `TERM=${term}`], 'the passed terminal takes TERM along');
  }
  if (native) t.comment('native stub built in: the native way ran natively (no 125)');
});

/**
 * A terminal session's late input must never land in another session (found while testing issue
 * 21): node-pty makes queued writes later, with fs.write on its master's number, and keeps trying
 * while the terminal is full; once the command ended it closed that descriptor, and the number,
 * reused, was by then a new client's socket: that client got stray input bytes before the server's
 * HELLO ("protocol error from the server: STDIN_DATA with a payload"). A terminal command that never
 * reads gets far more input than a terminal holds and exits; new clients connect meanwhile, and
 * every one of their conversations must start with HELLO and hold nothing but its own frames.
 */
import t from 'tap';
import { encodeString, encodeValue } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeTtyPayload } from '../../src/protocol/tty.js';
import { cleanup, freePort, sleep } from '../e2e/harness.js';
import { converse, hello, makeWorkspace, request, SKIP_UNBUILT, startServer, T } from './harness.js';

const ROUNDS = 12;

t.test('late terminal input never reaches another session', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(
    `[ srv:${port} ]\ndeaf /bin/sh -c 'stty raw -echo; sleep 0.3; exit 3'\nplain /bin/echo plain\n`,
    { stubs: false },
  );
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });
  const terminal = Buffer.concat([
    hello(),
    encodeString(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 24, cols: 80, term: 'dumb' })),
    request('deaf'),
  ]);
  // Far more than a terminal's input buffer holds: the writes wait on EAGAIN until the command ends.
  const flood = Array.from({ length: 32 }, () => encodeString(FrameType.STDIN_DATA, 'x'.repeat(16384)));
  const strays: string[] = [];
  const check = (conversation: Awaited<ReturnType<typeof converse>>, exit: number): void => {
    const types = conversation.frames.map((frame) => frame.type);
    const code = conversation.frames.find((frame) => frame.type === T.EXIT_CODE)?.value;
    if (types[0] !== T.HELLO || code !== exit)
      strays.push(
        `${conversation.raw.subarray(0, 16).toString('hex')}... (${types.length} frames, exit ${code})`,
      );
  };
  for (let round = 0; round < ROUNDS; round++) {
    const deaf = converse(port, Buffer.concat([terminal, ...flood, encodeValue(FrameType.STDIN_DATA, 0)]), {
      timeoutMs: 15000,
    });
    // New clients around the moment it ends, to take the numbers its descriptors free.
    const others: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      others.push(
        converse(port, Buffer.concat([hello(), request('plain')]), { timeoutMs: 10000 }).then((c) =>
          check(c, 0),
        ),
      );
      await sleep(15);
    }
    await Promise.all(others);
    check(await deaf, 3);
  }
  t.same(strays, [], 'every conversation opened by HELLO and ended by its own exit code');
});

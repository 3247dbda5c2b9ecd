/**
 * An unmodified k8psh 1.x client, byte for byte: frames written by hand as the
 * original writes them (docs/protocol.md, "Original frames"), replies checked frame by frame. It must
 * never see a frame type outside 0-8.
 */
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { parseFrames, stringFrame, valueFrame } from '../lib/frames.mjs';
import { cleanup, freePort, makeWorkspace, run, SKIP_UNBUILT, startServer } from './harness.js';

interface Frame {
  type: number;
  value: number;
  payload?: string;
}

/** Sends the bytes (in the original's order), collects every frame until the server closes. */
async function converse(port: number, request: Buffer[], afterStart: Buffer[] = []): Promise<Frame[]> {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const bytes of request) socket.write(bytes);
  for (const bytes of afterStart) socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => socket.on('close', resolve));
  // Payloads as text: the original protocol's strings and output are UTF-8 here.
  return parseFrames(Buffer.concat(chunks)).frames.map(({ type, value, payload }) =>
    payload ? { type, value, payload: payload.toString('utf8') } : { type, value },
  );
}

/** Consecutive data frames of one type joined, so the test does not depend on chunking. */
function merge(frames: Frame[]): Frame[] {
  const merged: Frame[] = [];
  for (const f of frames) {
    const last = merged[merged.length - 1];
    if (last && f.payload && last.type === f.type && last.payload) {
      last.payload += f.payload;
      last.value += f.value;
    } else merged.push({ ...f });
  }
  return merged;
}

t.test('an original k8psh client is served frame by frame', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(
    `[ srv:${port} ]\ngreet NAME= /bin/sh -c 'echo "hello $NAME $1"; echo oops >&2; cat; exit 7' sh\nsleeper /bin/sleep\n`,
    { stubs: false },
  );
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  t.teardown(async () => {
    await server.stop();
    cleanup(ws.dir);
  });

  const frames = merge(
    await converse(
      port,
      [stringFrame(0, ''), stringFrame(2, 'world'), stringFrame(1, 'NAME=legacy'), stringFrame(3, 'greet')],
      [stringFrame(4, 'piped\n'), stringFrame(4, '')],
    ),
  );
  t.ok(
    frames.every((f) => f.type <= 8),
    'only frames 0-8',
  );
  const out = frames.filter((f) => f.type === 5);
  const err = frames.filter((f) => f.type === 6);
  t.equal(out.map((f) => f.payload).join(''), 'hello legacy world\npiped\n');
  t.equal(out[out.length - 1]!.value, 0, 'stdout ends with a zero-length frame');
  t.equal(err.map((f) => f.payload).join(''), 'oops\n');
  t.equal(err[err.length - 1]!.value, 0, 'stderr ends with a zero-length frame');
  t.same(frames[frames.length - 1], { type: 8, value: 7 }, 'EXIT_CODE is the last frame');

  const unknown = await converse(port, [stringFrame(0, ''), stringFrame(3, 'nope')]);
  t.ok(
    unknown.every((f) => f.type <= 8),
    'a refusal to an old client uses only frames 0-8',
  );
  t.match(
    unknown.find((f) => f.type === 6)?.payload ?? '',
    /^k8psh: nope: command not found on server srv\n$/,
  );
  t.same(unknown[unknown.length - 1], { type: 8, value: 127 });

  const killed = await converse(
    port,
    [stringFrame(0, ''), stringFrame(2, '30'), stringFrame(3, 'sleeper')],
    [valueFrame(7, 0)],
  );
  t.ok(killed.every((f) => f.type <= 8));
  t.same(killed[killed.length - 1], { type: 8, value: 128 + 9 }, 'TERMINATE_COMMAND kills it: 128+SIGKILL');
});

t.test('a new client works with an original k8psh server', { skip: SKIP_UNBUILT }, async (t) => {
  // An original server: aborts a connection on an unknown frame type, and otherwise answers
  // with the request it got (as STDOUT_DATA), then EXIT_CODE 3.
  const seen: number[][] = [];
  const server = createServer((socket) => {
    const types: number[] = [];
    seen.push(types);
    let buffer = Buffer.alloc(0);
    let args: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 5) {
        const type = buffer[0]!;
        const length = buffer.readUInt32LE(1);
        if (type > 8) return socket.destroy();
        if (buffer.length < 5 + length) return;
        const payload = buffer.toString('utf8', 5, 5 + length);
        buffer = buffer.subarray(5 + length);
        types.push(type);
        if (type === 2) args.push(payload);
        if (type === 3) {
          socket.write(stringFrame(5, `old server ran ${payload} ${args.join(' ')}\n`));
          socket.end(valueFrame(8, 3));
          args = [];
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  const ws = await makeWorkspace(`[ old:${port} ]\nhello\n`);
  t.teardown(() => {
    server.close();
    cleanup(ws.dir);
  });
  const r = await run(join(ws.bin, 'hello'), ['a', 'b'], { env: ws.env, cwd: ws.dir });
  t.equal(r.code, 3);
  t.equal(r.out, 'old server ran hello a b\n');
  t.equal(r.err, '');
  t.equal(seen.length, 2, 'a first attempt with HELLO, then one in the original protocol');
  t.ok(seen[1]!.every((type) => type <= 8));
});

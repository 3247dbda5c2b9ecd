/** The relaying client's choice of a stdin strategy, from what fd 0 really is in a child process. */
import { spawn, type StdioNull, type StdioPipe } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { stdinSource } from '../../src/client/stdin.js';

const fixture = fileURLToPath(new URL('./fixtures/stdin-source.ts', import.meta.url));

/** Runs the fixture with `stdin` as its fd 0 (tap's TypeScript loader comes with execArgv). */
async function sourceFor(stdin: StdioNull | StdioPipe | number | Socket): Promise<string> {
  const child = spawn(process.execPath, [...process.execArgv, fixture], {
    stdio: [stdin, 'pipe', 'inherit'],
    timeout: 30_000,
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  await new Promise((resolve) => child.once('close', resolve));
  return output;
}

t.test('a pipe: our own socket on fd 0', async (t) => {
  t.equal(await sourceFor('pipe'), 'pipe');
});

t.test('/dev/null and a regular file: synchronous reads', async (t) => {
  t.equal(await sourceFor('ignore'), 'sync');
  const fd = openSync(fixture, 'r');
  t.teardown(() => closeSync(fd));
  t.equal(await sourceFor(fd), 'sync');
});

t.test('a socket: our own socket on fd 0', async (t) => {
  const server = createServer((peer) => peer.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  t.teardown(() => socket.destroy());
  t.equal(await sourceFor(socket), 'pipe');
});

t.test('another character device: process.stdin', async (t) => {
  const fd = openSync('/dev/ptmx', 'r+');
  t.teardown(() => closeSync(fd));
  t.equal(await sourceFor(fd), 'stream');
});

t.test('a terminal session always reads through process.stdin', async (t) => {
  t.equal(stdinSource(true), 'tty');
});

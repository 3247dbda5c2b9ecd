/**
 * Clients that half-close or vanish where Node does not see them go (issue 21, items 5 and 6):
 * - a relayed stub `kill -9`ed while its stdin (from /dev/zero) backs up: the server had paused the
 *   socket, the stub's FIN waited behind unsent stdin, and `sleep 300` ran on with four
 *   descriptors held and no "client gone" logged;
 * - an original client that sends its request, its stdin and its end, then shutdown(SHUT_WR):
 *   Node's default (allowHalfOpen false) closed the server's side too, and `cat` or
 *   `sleep 1; echo late-output` gave it no output and no exit code;
 * - a half-closed client that then goes away for good must end its command.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { syscalls, syscallsFailure } from '../../src/native/syscalls.js';
import { encodeRequest } from '../../src/protocol/client-session.js';
import { encodeString, encodeValue } from '../../src/protocol/codec.js';
import { CLIENT_FEATURES, Feature, FrameType } from '../../src/protocol/constants.js';
import { encodeTtyPayload } from '../../src/protocol/tty.js';
import { alive, cleanup, freePort, pidsMatching, sleep } from '../e2e/harness.js';
import {
  converse,
  converseLocal,
  eventually,
  fdCount,
  hello,
  makeWorkspace,
  request,
  SKIP_UNBUILT,
  startServer,
  T,
  type Conversation,
} from './harness.js';

const native = syscalls();
const STDIN_END = encodeValue(FrameType.STDIN_DATA, 0);
const stdin = (text: string): Buffer => encodeString(FrameType.STDIN_DATA, text);

/** HELLO asking to pass stdio, then the request for `command`: what a stub sends on the local socket. */
function passingRequest(command: string): Buffer {
  return encodeRequest({
    command,
    arguments: [],
    workingDirectory: '',
    environment: [],
    hello: true,
    tty: null,
    features: CLIENT_FEATURES | Feature.PASSED_STDIO,
  });
}

function output(conversation: Conversation): { out: string; exit: number | undefined } {
  const out = Buffer.concat(
    conversation.frames.filter((f) => f.type === T.STDOUT_DATA && f.payload).map((f) => f.payload!),
  ).toString();
  return { out, exit: conversation.frames.find((f) => f.type === T.EXIT_CODE)?.value };
}

t.test('vanishing clients', { skip: SKIP_UNBUILT }, async (t) => {
  const port = await freePort();
  const ws = await makeWorkspace(
    `[ srv:${port} ]\ncat\nlate /bin/sh -c 'sleep 1; echo late-output'\n` +
      `sleeper /bin/sh -c 'echo started; exec sleep 300'\n`,
  );
  const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
  const sleepers = async (): Promise<number[]> =>
    (await pidsMatching('sleep 300')).filter((pid) => alive(pid) && pid !== server.process.pid);
  t.teardown(async () => {
    for (const pid of await sleepers()) process.kill(pid, 'SIGKILL');
    await server.stop();
    cleanup(ws.dir);
  });

  t.test('a killed relayed stub whose stdin backs up: its command ends', async (t) => {
    const baseline = fdCount(server.process.pid!);
    const zero = openSync('/dev/zero', 'r');
    const stub = spawn(join(ws.bin, 'sleeper'), [], {
      env: { ...ws.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: ws.dir,
      stdio: [zero, 'pipe', 'ignore'],
    });
    closeSync(zero);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the remote command did not start within 15 s')),
        15000,
      );
      stub.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Long enough for /dev/zero to fill the command's stdin and the TCP window behind it.
    await sleep(1000);
    t.equal((await sleepers()).length, 1, 'running');
    stub.kill('SIGKILL');
    t.ok(await eventually(async () => (await sleepers()).length === 0, 8000), 'the remote sleep is ended');
    t.ok(await eventually(() => server.stderr().includes('client gone: ending its command'), 3000), 'logged');
    t.ok(
      await eventually(() => fdCount(server.process.pid!) <= baseline, 5000),
      'its descriptors are released',
    );
  });

  const cases: { name: string; bytes: Buffer; path?: string; fds?: boolean }[] = [
    { name: 'original client, cat', bytes: Buffer.concat([request('cat'), stdin('data\n'), STDIN_END]) },
    { name: 'original client, late output', bytes: Buffer.concat([request('late'), STDIN_END]) },
    { name: 'new client, cat', bytes: Buffer.concat([hello(), request('cat'), stdin('data\n'), STDIN_END]) },
    { name: 'new client, late output', bytes: Buffer.concat([hello(), request('late'), STDIN_END]) },
    {
      name: 'new client in a terminal, late output',
      bytes: Buffer.concat([
        hello(),
        encodeString(FrameType.TTY_REQUEST, encodeTtyPayload({ rows: 24, cols: 80, term: 'dumb' })),
        request('late'),
      ]),
    },
  ];
  for (const { name, bytes } of cases)
    t.test(`half-close: ${name} still gets its output and exit code`, async (t) => {
      const conversation = await converse(port, bytes, { endAfterWrite: true, timeoutMs: 10000 });
      const { out, exit } = output(conversation);
      t.equal(exit, 0, 'exit code 0');
      t.equal(out.replace(/\r\n/g, '\n'), /late/.test(name) ? 'late-output\n' : 'data\n', 'all its output');
    });

  t.test(
    'half-close on the local socket, descriptors passed: the exit code still comes',
    { skip: native ? false : `no addon: ${syscallsFailure()}` },
    async (t) => {
      const devNull = openSync('/dev/null', 'r+');
      const bytes = passingRequest('late');
      const conversation = await converseLocal(port, bytes, {
        fds: [devNull, devNull, devNull],
        endAfterWrite: true,
        timeoutMs: 10000,
      });
      closeSync(devNull);
      t.equal(output(conversation).exit, 0);
    },
  );

  t.test('a half-closed client that then goes away: its command ends', async (t) => {
    const conversation = converse(port, Buffer.concat([request('sleeper'), STDIN_END]), {
      endAfterWrite: true,
      timeoutMs: 1500,
    });
    t.ok(await eventually(async () => (await sleepers()).length === 1, 10000), 'running');
    // converse() destroys its socket at its timeout: gone for good, after the half-close.
    t.equal((await conversation).closed, false, 'nothing ended it before the client left');
    t.ok(await eventually(async () => (await sleepers()).length === 0, 8000), 'the remote sleep is ended');
  });

  t.test(
    'on the local socket, a half-closed client that then goes away: its command ends',
    { skip: native ? false : `no addon: ${syscallsFailure()}` },
    async (t) => {
      const devNull = openSync('/dev/null', 'r+');
      const bytes = passingRequest('sleeper');
      const conversation = converseLocal(port, bytes, {
        fds: [devNull, devNull, devNull],
        endAfterWrite: true,
        timeoutMs: 1500,
        // The server has its own copies once they are sent.
        onSent: () => closeSync(devNull),
      });
      t.ok(await eventually(async () => (await sleepers()).length === 1, 10000), 'running');
      t.equal((await conversation).closed, false, 'nothing ended it before the client left');
      t.ok(await eventually(async () => (await sleepers()).length === 0, 8000), 'the remote sleep is ended');
    },
  );
});

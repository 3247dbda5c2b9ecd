/**
 * Attack: the working-directory swap race (issue 21, item 3). A client that can write in the base
 * toggles a path between a directory and a symlink to /etc (renameat2 RENAME_EXCHANGE, in a tight
 * loop) while asking for `pwd` there. A server that checks the path and then lets chdir resolve it
 * again ran 380 of 1,800 requests in /etc; one that opens the directory beneath the base and starts
 * the command in that descriptor runs each request in the checked directory or refuses it.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { syscalls } from '../../src/native/syscalls.js';
import { encodeRequest } from '../../src/protocol/client-session.js';
import { CLIENT_FEATURES, Feature } from '../../src/protocol/constants.js';
import { cleanup, freePort } from '../e2e/harness.js';
import {
  converse,
  converseLocal,
  hello,
  makeWorkspace,
  refusal,
  request,
  SKIP_UNBUILT,
  startServer,
  T,
} from './harness.js';

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((path) => existsSync(path));
/** Swaps two names until killed: glibc's renameat2 through ctypes (coreutils' mv has no --exchange here). */
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
os.write(1, b"ready\\n")
while True:
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
`;
const ROUNDS = 600;
const native = syscalls();

t.test(
  'working-directory swap race: no command runs outside the directory that was checked',
  { skip: SKIP_UNBUILT || (PYTHON ? false : 'no python3 to swap the directory') },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(
      `baseDirectory = base\n[ srv:${port} ]\nwhere /bin/sh -c 'cat marker 2>/dev/null || pwd'\n`,
    );
    const base = join(ws.dir, 'base');
    mkdirSync(join(base, 'toggle'), { recursive: true });
    // The directory says which it is, whatever its name when the command runs (the swap renames it).
    writeFileSync(join(base, 'toggle', 'marker'), 'the checked directory\n');
    symlinkSync('/etc', join(base, 'spare'));
    const server = await startServer(['--name', 'srv'], port, { env: ws.env, cwd: ws.dir });
    const swapper = spawn(PYTHON!, ['-c', SWAPPER, join(base, 'toggle'), join(base, 'spare')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(async () => {
      swapper.kill('SIGKILL');
      await server.stop();
      cleanup(ws.dir);
    });
    await new Promise((resolve, reject) => {
      swapper.stdout.once('data', resolve);
      swapper.once('exit', (code) => reject(new Error(`the swapper exited (${code})`)));
    });
    const outcomes = { ran: 0, refused: 0, elsewhere: [] as string[] };
    const modern = Buffer.concat([hello(), request('where', { cwd: 'toggle' })]);
    const original = request('where', { cwd: 'toggle' });
    for (let i = 0; i < ROUNDS; i++) {
      const conversation = await converse(port, i % 2 ? modern : original, { timeoutMs: 10000 });
      const out = Buffer.concat(
        conversation.frames.filter((f) => f.type === T.STDOUT_DATA && f.payload).map((f) => f.payload!),
      ).toString();
      if (out === 'the checked directory\n') outcomes.ran++;
      else if (out === '' && /working directory/.test(refusal(conversation).message)) outcomes.refused++;
      else outcomes.elsewhere.push(out || refusal(conversation).message);
    }
    t.same(
      outcomes.elsewhere,
      [],
      `never outside: ${outcomes.ran} ran in the checked directory, ${outcomes.refused} refused`,
    );
    t.ok(outcomes.ran > 0 && outcomes.refused > 0, 'both states of the path were met');
    // Passed descriptors (the stubs' path): the command writes into a file of ours.
    if (!native) return;
    const passed = { ran: 0, refused: 0, elsewhere: [] as string[] };
    const passing = encodeRequest({
      command: 'where',
      arguments: [],
      workingDirectory: 'toggle',
      environment: [],
      hello: true,
      tty: null,
      features: CLIENT_FEATURES | Feature.PASSED_STDIO,
    });
    for (let i = 0; i < ROUNDS / 2; i++) {
      const output = join(ws.dir, `out-${i}`);
      const [stdin, stdout] = [openSync('/dev/null', 'r'), openSync(output, 'w')];
      const conversation = await converseLocal(port, passing, {
        fds: [stdin, stdout, stdout],
        timeoutMs: 10000,
      });
      closeSync(stdin);
      closeSync(stdout);
      const out = readFileSync(output, 'utf8');
      if (out === 'the checked directory\n') passed.ran++;
      else if (out === '' && /working directory/.test(refusal(conversation).message)) passed.refused++;
      else passed.elsewhere.push(out || refusal(conversation).message);
    }
    t.same(
      passed.elsewhere,
      [],
      `passed descriptors: ${passed.ran} ran in the checked directory, ${passed.refused} refused`,
    );
  },
);

/**
 * Attack: squatting the server's names (issue 21, item 1). No permission guards the abstract name
 * `\0k8psh-PORT` or a port: another user of the Pod (uid 1002) binds them before the server (uid
 * 1000) starts. The server used to warn and go on relaying, and the victim's stubs (uid 1001) sent
 * the squatter their arguments, a secret variable and their stdin/stdout/stderr, and printed what
 * it forged. Now the server refuses to start, and a stub sends nothing to a listener whose uid is
 * not its own, root's or the one its section names with --server-uid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { localSocketPath } from '../../src/protocol/constants.js';
import { cleanup, freePort, run, tempDir, writeFile } from '../e2e/harness.js';
import { BIN, DAEMON, SKIP_UNBUILT, startServer } from './harness.js';

const [SERVER, VICTIM, ATTACKER] = [1000, 1001, 1002];
const SKIP = SKIP_UNBUILT || (process.getuid?.() === 0 ? false : 'needs root, to act as three users');

/** A listener of the attacker's on the local name or the port: it writes every byte it gets to stdout. */
const SQUATTER = `
const net = require('node:net');
const [where] = process.argv.slice(1);
const server = net.createServer((socket) => {
  socket.on('data', (chunk) => process.stdout.write(chunk.toString('latin1')));
  socket.on('error', () => {});
  // A forged answer: output for the victim's file, then exit 0 (EXIT_CODE frame).
  socket.write(Buffer.from([5, 7, 0, 0, 0, ...Buffer.from('forged\\n'), 8, 0, 0, 0, 0]));
});
server.listen(/^\\d+$/.test(where) ? { host: '127.0.0.1', port: Number(where) } : { path: '\\0' + where.slice(1) }, () =>
  process.stderr.write('listening\\n'),
);
`;

interface Squatter {
  process: ChildProcess;
  received: () => string;
}

async function squat(where: string): Promise<Squatter> {
  const child = spawn(process.execPath, ['-e', SQUATTER, where], {
    uid: ATTACKER,
    gid: ATTACKER,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let received = '';
  child.stdout.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the squatter did not listen on ${where} within 10 s`)),
      10000,
    );
    child.stderr.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { process: child, received: () => received };
}

t.test('squatting the local name and the port', { skip: SKIP }, async (t) => {
  const port = await freePort();
  const dir = tempDir('k8psh-squat-');
  chmodSync(dir, 0o755);
  const config = writeFile(join(dir, 'k8psh.conf'), `[ srv:${port} ] ?FOO=\ncat\n`);
  const bin = join(dir, 'bin');
  const made = await run(DAEMON, ['--executable-directory', bin, '--name', 'client'], {
    env: { ...process.env, K8PSH_CONFIG: config },
  });
  t.equal(made.code, 0, 'stubs made');
  const victimDir = join(dir, 'victim');
  mkdirSync(victimDir, { mode: 0o700 });
  chownSync(victimDir, VICTIM, VICTIM);
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const child of children) child.kill('SIGKILL');
    cleanup(dir);
  });
  const base = { PATH: process.env.PATH, K8PSH_CONFIG: config, K8PSH_CACHE_DIR: join(victimDir, 'cache') };

  /** The victim's stub, stdin a secret, stdout its own file; what it printed and what the file got. */
  const victim = async (env: NodeJS.ProcessEnv) => {
    const out = join(victimDir, `out-${Math.random().toString(36).slice(2)}`);
    writeFileSync(out, '');
    chownSync(out, VICTIM, VICTIM);
    const r = await run('/bin/sh', ['-c', `exec "$0" > "${out}"`, join(bin, 'cat')], {
      env: { ...base, FOO: 'victim-secret-token', ...env },
      cwd: dir,
      uid: VICTIM,
      gid: VICTIM,
      input: 'victim-secret-stdin\n',
      timeoutMs: 20000,
    });
    return { code: r.code, err: r.err, file: readFileSync(out, 'utf8') };
  };

  t.test('the abstract name squatted before the server starts', async (t) => {
    const squatter = await squat(`@${localSocketPath(port).slice(1)}`);
    children.push(squatter.process);
    const server = await run(DAEMON, ['--name', 'srv', '--config', config], { uid: SERVER, gid: SERVER });
    t.same(
      { code: server.code, err: server.err },
      {
        code: 1,
        err: `k8pshd: the local socket @k8psh-${port} of server srv is already in use: another process holds it, and stubs would talk to that process\n`,
      },
      'the server fails closed, in one line',
    );
    const refused = `k8psh: refusing server srv at @k8psh-${port}: the listener there runs as uid ${ATTACKER}; trusted are uid ${VICTIM} (you), root and the uid --server-uid names on its section line\n`;
    for (const [how, env] of [
      ['first call (TypeScript client, writes the table)', {}],
      ['native stub (the table is there)', {}],
      ['TypeScript client', { K8PSH_NATIVE: '0' }],
    ] as const)
      t.same(await victim(env), { code: 255, err: refused, file: '' }, `${how}: refused, nothing forged`);
    const native = await victim({ K8PSH_NATIVE: '1' });
    t.same(
      native,
      {
        code: 125,
        err: `k8psh: not native: the local socket for port ${port} is held by uid ${ATTACKER}, which is not trusted\n`,
        file: '',
      },
      'the native stub itself sends nothing',
    );
    t.equal(squatter.received(), '', 'the squatter received not a byte');
    squatter.process.kill('SIGKILL');
  });

  t.test('the port squatted, no local name: the relayed path', async (t) => {
    const squatter = await squat(String(port));
    children.push(squatter.process);
    const refused = `k8psh: refusing server srv at 127.0.0.1:${port}: the listener there runs as uid ${ATTACKER}; trusted are uid ${VICTIM} (you), root and the uid --server-uid names on its section line\n`;
    for (const [how, env] of [
      ['stub', {}],
      ['relayed', { K8PSH_DIRECT_STDIO: '0' }],
    ] as const)
      t.same(await victim(env), { code: 255, err: refused, file: '' }, `${how}: refused, nothing forged`);
    const health = await run(BIN, ['--health', '--name', 'srv', '--config', config], {
      uid: VICTIM,
      gid: VICTIM,
    });
    t.equal(health.code, 1, 'the health probe does not call a squatter healthy');
    t.equal(squatter.received(), '', 'the squatter received not a byte');
    squatter.process.kill('SIGKILL');
  });

  t.test('a server of another uid is trusted once its section names it', async (t) => {
    const named = writeFile(join(dir, 'named.conf'), `[ srv:${port} ] ?FOO= --server-uid=${SERVER}\ncat\n`);
    const wrong = await run(DAEMON, ['--name', 'srv', '--config', named], { uid: VICTIM, gid: VICTIM });
    t.same(
      { code: wrong.code, err: wrong.err },
      {
        code: 1,
        err: `k8pshd: server srv runs as uid ${VICTIM}, but --server-uid says ${SERVER}: stubs would refuse to talk to it\n`,
      },
      'a server refuses to start as another uid than its section names',
    );
    const server = await startServer(['--name', 'srv', '--config', named], port, {
      uid: SERVER,
      gid: SERVER,
      cwd: dir,
    });
    t.teardown(() => server.stop());
    for (const [how, env] of [
      ['first call', {}],
      ['native stub', { K8PSH_NATIVE: '1' }],
      ['TypeScript client', { K8PSH_NATIVE: '0' }],
      ['relayed', { K8PSH_DIRECT_STDIO: '0' }],
    ] as const)
      t.same(
        await victim({ K8PSH_CONFIG: named, ...env }),
        { code: 0, err: '', file: 'victim-secret-stdin\n' },
        `${how}: served`,
      );
    const unnamed = await victim({});
    t.equal(unnamed.code, 255, 'without --server-uid, the same server is refused');
    t.match(unnamed.err, `the listener there runs as uid ${SERVER}`);
  });
});

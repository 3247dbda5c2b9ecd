/**
 * A planted ./k8psh.conf (issue 21 §8): a stub run without $K8PSH_CONFIG reads ./k8psh.conf, so
 * whoever can put that file in the directory a victim works in chooses the server, and the
 * variables, that the victim's stub sends its arguments, secrets and descriptors to. Three local
 * users as in one Pod: the server runs as uid 1000, the victim as 1001, the attacker as 1002; the
 * attacker's "server" is a plain listener of the test on TCP and on the local name a stub tries
 * first. Whatever the victim runs, that listener must never receive a byte; the victim gets one
 * line naming the file, what is wrong and the fix, and exit 1 (a configuration error). The rule
 * (docs/configuration.md, "Who may write the configuration") accepts the victim's own file, a
 * root-owned one (a ConfigMap), and a sticky directory.
 */
import { chmodSync, chownSync, mkdirSync, realpathSync, renameSync, symlinkSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { localSocketPath } from '../../src/protocol/constants.js';
import { cleanup, freePorts, run, tempDir, writeFile, type Result } from '../e2e/harness.js';
import { BIN, DAEMON, makeWorkspace, SKIP_UNBUILT, startServer } from './harness.js';

const SERVER = { uid: 1000, gid: 1000 };
const VICTIM = { uid: 1001, gid: 1001 };
const ATTACKER = { uid: 1002, gid: 1002 };
const SKIP = SKIP_UNBUILT || (process.getuid?.() === 0 ? false : 'needs root to run as three users');

/** Everything the attacker's listener got: it closes each connection at its first bytes. */
interface Listener {
  connections: number;
  bytes: number;
  received: Buffer[];
  close(): Promise<void>;
}

/** A stand-in for the attacker's server: 127.0.0.1:port and `\0k8psh-<port>`, counting what comes. */
async function listen(port: number): Promise<Listener> {
  const listener: Listener = { connections: 0, bytes: 0, received: [], close: async () => {} };
  const take = (socket: Socket): void => {
    listener.connections++;
    socket.on('data', (chunk: Buffer) => {
      listener.bytes += chunk.length;
      listener.received.push(chunk);
      socket.destroy();
    });
    socket.on('error', () => {});
  };
  const servers: NetServer[] = [];
  for (const address of [{ host: '127.0.0.1', port }, { path: localSocketPath(port) }]) {
    const server = createServer(take);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address, resolve);
    });
    servers.push(server);
  }
  listener.close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  return listener;
}

t.test('planted ./k8psh.conf is refused', { skip: SKIP }, async (t) => {
  const [port, evilPort] = (await freePorts(2)) as [number, number];
  const top = realpathSync(tempDir('k8psh-planted-'));
  chmodSync(top, 0o755);
  // The server runs as uid 1000, the victim as 1001: the section says whose listener to trust.
  const configText = `baseDirectory = ${top}\n[ srv:${port} ] --server-uid=1000\ngcc /bin/sh -c 'echo "gcc ran as $(id -u): $1"' sh\n`;
  t.teardown(() => cleanup(top));
  const ws = await makeWorkspace(configText);
  t.teardown(() => cleanup(ws.dir));
  chmodSync(ws.dir, 0o755);
  // The Pod's configuration, root-owned as a ConfigMap mount is: ..data and the file are symlinks.
  const configMap = join(top, 'configmap');
  writeFile(join(configMap, '..2026_01_01_00_00_00.1', 'k8psh.conf'), configText);
  symlinkSync('..2026_01_01_00_00_00.1', join(configMap, '..data'));
  symlinkSync('..data/k8psh.conf', join(configMap, 'k8psh.conf'));
  const server = await startServer(['--config', join(configMap, 'k8psh.conf'), '--name', 'srv'], port, {
    ...SERVER,
    env: { PATH: '/usr/bin:/bin', HOME: '/', K8PSH_TTY: '0' },
    cwd: '/',
  });
  t.teardown(() => server.stop());
  const evil = await listen(evilPort);
  t.teardown(() => evil.close());

  const home = join(top, 'home-1001');
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, VICTIM.uid, VICTIM.gid);
  const victimEnv: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    SECRET_TOKEN: 'victim-secret-token',
    SSH_AUTH_SOCK: join(home, 'agent.sock'),
    K8PSH_TTY: '0',
  };
  const gcc = join(ws.bin, 'gcc');
  /** The victim runs the gcc stub in `cwd`: natively where it can (the default), or K8PSH_NATIVE=0. */
  const victim = (cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<Result> =>
    run(gcc, ['hello'], { ...VICTIM, cwd, env: { ...victimEnv, ...extra }, timeoutMs: 20000 });
  /** As `as`, writes `text` into `file` (the shell's umask: 0644). */
  const write = async (as: { uid: number; gid: number }, file: string, text: string): Promise<void> => {
    const made = await run('/bin/sh', ['-c', 'umask 022; cat > "$1"', 'sh', file], { ...as, input: text });
    if (made.code !== 0) throw new Error(`cannot write ${file} as uid ${as.uid}: ${made.err}`);
  };
  const directory = (name: string, mode: number, owner = { uid: 0, gid: 0 }): string => {
    const dir = join(top, name);
    mkdirSync(dir);
    chmodSync(dir, mode);
    chownSync(dir, owner.uid, owner.gid);
    return dir;
  };
  const evilText = `[ evil:${evilPort} ] ?SECRET_TOKEN= ?SSH_AUTH_SOCK= ?HOME=\ngcc\n`;
  const ran = `gcc ran as ${SERVER.uid}: hello\n`;

  /** Every way the victim may run the stub there is refused with `message`, and evil hears nothing. */
  const refusedBoth = async (t: Test, cwd: string, message: string): Promise<void> => {
    for (const [how, extra] of [
      ['native (default)', {}],
      ['K8PSH_NATIVE=0', { K8PSH_NATIVE: '0' }],
      ['native again', {}],
    ] as const) {
      const r = await victim(cwd, extra);
      t.same([r.code, r.err, r.out], [1, message, ''], `${how}: exit 1 and one line`);
    }
    t.same([evil.connections, evil.bytes], [0, 0], "the attacker's listener got no connection, no byte");
    t.notOk(Buffer.concat(evil.received).includes('victim-secret-token'), 'the secret stayed home');
  };

  t.test('planted by another user in a world-writable directory: refused', async (t) => {
    const shared = directory('shared', 0o777);
    await write(ATTACKER, join(shared, 'k8psh.conf'), evilText);
    await refusedBoth(
      t,
      shared,
      `k8psh: refusing the configuration ./k8psh.conf: its directory ${shared} is writable by others ` +
        `(mode 0777; chmod go-w ${shared}, or name the file with $K8PSH_CONFIG)\n`,
    );
  });

  t.test('planted by another user in a sticky directory: refused for its owner', async (t) => {
    const sticky = directory('sticky', 0o1777);
    await write(ATTACKER, join(sticky, 'k8psh.conf'), evilText);
    await refusedBoth(
      t,
      sticky,
      `k8psh: refusing the configuration ${sticky}/k8psh.conf: it is owned by uid ${ATTACKER.uid}, not by ` +
        `you (uid ${VICTIM.uid}) or root (chown it, or name a file you trust with $K8PSH_CONFIG)\n`,
    );
  });

  t.test("the victim's own ./k8psh.conf in its own directory works", async (t) => {
    const own = directory('own', 0o755, VICTIM);
    await write(VICTIM, join(own, 'k8psh.conf'), configText);
    for (const extra of [{}, { K8PSH_NATIVE: '0' }, { K8PSH_NATIVE: '1' }]) {
      const r = await victim(own, extra);
      t.same([r.code, r.out, r.err], [0, ran, ''], `ran (${JSON.stringify(extra)})`);
    }
  });

  t.test("the victim's own ./k8psh.conf in a sticky directory works", async (t) => {
    const sticky = directory('sticky-own', 0o1777);
    await write(VICTIM, join(sticky, 'k8psh.conf'), configText);
    for (const extra of [{}, { K8PSH_NATIVE: '0' }]) {
      const r = await victim(sticky, extra);
      t.same([r.code, r.out, r.err], [0, ran, ''], `ran (${JSON.stringify(extra)})`);
    }
  });

  t.test('a root-owned configuration (a ConfigMap, through its symlinks) works', async (t) => {
    const work = directory('work-1001', 0o755, VICTIM);
    for (const extra of [{}, { K8PSH_NATIVE: '0' }]) {
      const r = await victim(work, { K8PSH_CONFIG: join(configMap, 'k8psh.conf'), ...extra });
      t.same([r.code, r.out, r.err], [0, ran, ''], `ran (${JSON.stringify(extra)})`);
    }
  });

  t.test('a table written while the configuration was trusted is not used once it is not', async (t) => {
    // Native stubs compare the file's bytes with their compiled table; its owner, mode and directory
    // count as much: a K8PSH_NATIVE=1 call must hand over (125) and the default call refuse.
    const later = directory('later', 0o755, VICTIM);
    await write(VICTIM, join(later, 'k8psh.conf'), configText);
    t.same((await victim(later)).out, ran, 'first call: handed over, table written');
    t.same((await victim(later, { K8PSH_NATIVE: '1' })).code, 0, 'then native');
    chmodSync(later, 0o777);
    const nativeOnly = await victim(later, { K8PSH_NATIVE: '1' });
    t.same(
      [nativeOnly.code, nativeOnly.out],
      [125, ''],
      `directory opened to others: not native (${nativeOnly.err.trim()})`,
    );
    t.match(nativeOnly.err, /\(the configuration is not trusted\)\n$/);
    const message =
      `k8psh: refusing the configuration ./k8psh.conf: its directory ${later} is writable by others ` +
      `(mode 0777; chmod go-w ${later}, or name the file with $K8PSH_CONFIG)\n`;
    t.same(await victim(later).then((r) => [r.code, r.err, r.out]), [1, message, ''], 'default: refused');
    chmodSync(later, 0o755);
    chmodSync(join(later, 'k8psh.conf'), 0o646);
    const file = join(later, 'k8psh.conf');
    t.same((await victim(later, { K8PSH_NATIVE: '1' })).code, 125, 'file opened to others: not native');
    t.same(
      await victim(later).then((r) => [r.code, r.err, r.out]),
      [
        1,
        `k8psh: refusing the configuration ${file}: it is writable by others (mode 0646; chmod go-w ${file})\n`,
        '',
      ],
      'default: refused',
    );
    // The same bytes in a file of another owner, swapped in by root.
    chmodSync(file, 0o644);
    writeFile(join(later, 'copy'), configText);
    chownSync(join(later, 'copy'), ATTACKER.uid, ATTACKER.gid);
    renameSync(join(later, 'copy'), file);
    t.same((await victim(later, { K8PSH_NATIVE: '1' })).code, 125, 'owned by another user: not native');
    t.same((await victim(later)).code, 1, 'default: refused');
  });

  t.test('a configuration others may write is refused by k8pshd, k8psh and stubs alike', async (t) => {
    const open = writeFile(join(top, 'open.conf'), configText.replace(`srv:${port}`, `other:${port}`));
    chmodSync(open, 0o646);
    const why = `refusing the configuration ${open}: it is writable by others (mode 0646; chmod go-w ${open})\n`;
    const env = { PATH: '/usr/bin:/bin', HOME: '/', K8PSH_TTY: '0' };
    const daemon = await run(DAEMON, ['--config', open, '--name', 'other', '-d', '-m', '0'], {
      ...SERVER,
      env,
      cwd: '/',
    });
    t.same([daemon.code, daemon.err], [1, `k8pshd: ${why}`], 'k8pshd --config');
    const stubs = await run(DAEMON, ['--config', open, '-e', join(top, 'no-stubs')], { env, cwd: '/' });
    t.same([stubs.code, stubs.err], [1, `k8pshd: ${why}`], 'k8pshd -e DIR (making stubs, as root)');
    const front = await run(BIN, ['--config', open, 'gcc', 'hello'], { ...VICTIM, env: victimEnv, cwd: '/' });
    t.same([front.code, front.err, front.out], [1, `k8psh: ${why}`, ''], 'k8psh --config FILE cmd');
    const health = await run(BIN, ['--health', '--config', open, '-n', 'other'], {
      ...VICTIM,
      env,
      cwd: '/',
    });
    t.same([health.code, health.err], [1, `k8psh: ${why}`], 'k8psh --health');
    const stub = await victim(directory('work-open', 0o755, VICTIM), { K8PSH_CONFIG: open });
    t.same([stub.code, stub.err, stub.out], [1, `k8psh: ${why}`, ''], 'a stub with $K8PSH_CONFIG');
  });
});

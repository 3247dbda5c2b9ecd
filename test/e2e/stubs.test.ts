/** Stubs, --install, the reference configuration, the front end and server options (docs/session.md, "Faces"; README.md, "Server k8pshd"). */
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';
import {
  BIN,
  canConnect,
  cleanup,
  DAEMON,
  freePort,
  makeWorkspace,
  ROOT,
  run,
  SKIP_UNBUILT,
  startServer,
  tempDir,
  writeFile,
} from './harness.js';

/** The original's example configuration (copied into the repository: see its README there). */
const REFERENCE = resolve(ROOT, 'test/fixtures/original/k8psh_example.conf');

t.test(
  'the reference example gives the stubs and ports the original gives',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const dir = tempDir();
    t.teardown(() => cleanup(dir));
    const env: NodeJS.ProcessEnv = { ...process.env, K8PSH_CONFIG: REFERENCE };
    delete env.WORKSPACE;
    const client = await run(DAEMON, ['--executable-directory', join(dir, 'client'), '--name', 'nobody'], {
      env,
      cwd: dir,
    });
    t.equal(client.code, 0, client.err);
    t.same(readdirSync(join(dir, 'client')).sort(), ['g++', 'gcc', 'gradle', 'java', 'javac', 'make']);
    for (const name of readdirSync(join(dir, 'client'))) {
      const file = join(dir, 'client', name);
      t.ok(lstatSync(file).isSymbolicLink(), `${name} is a symlink`);
      t.equal(readlinkSync(file), BIN, `${name} points at the executable`);
    }

    // `make` serves on 2105 and gets stubs for every other command (not its own without -l).
    const make = await run(DAEMON, ['-e', join(dir, 'make'), '--name=make', '--timeout', '1500', '-k'], {
      env,
      cwd: dir,
    });
    t.equal(make.code, 0, make.err);
    t.same(readdirSync(join(dir, 'make')).sort(), ['g++', 'gcc', 'gradle', 'java', 'javac']);

    // `gcc` has --disable-client-executables on its section line: no stubs at all, listening on 2102.
    const gcc = await startServer(['-e', join(dir, 'gcc'), '--name', 'gcc'], 2102, { env, cwd: dir });
    t.ok(await canConnect(2102));
    t.notOk(existsSync(join(dir, 'gcc')) && readdirSync(join(dir, 'gcc')).length > 0, 'no stubs for gcc');
    t.equal(await gcc.stop(), 0);
  },
);

t.test(
  'stubs are removed on exit unless -k; foreign files are not replaced without -o',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(`[ srv:${port} ]\ntrue\n[ other:${port + 1} ]\nfalse\n`, { stubs: false });
    t.teardown(() => cleanup(ws.dir));
    const bin = join(ws.dir, 'stubs');
    const server = await startServer(['--name', 'srv', '-e', bin], port, { env: ws.env, cwd: ws.dir });
    t.same(readdirSync(bin), ['false'], 'only the other server\u2019s command');
    t.equal(await server.stop('SIGINT'), 0);
    t.same(readdirSync(bin), [], 'removed on exit');

    const local = await startServer(['--name', 'srv', '-e', bin, '-l', '-k'], port, {
      env: ws.env,
      cwd: ws.dir,
    });
    t.same(readdirSync(bin).sort(), ['false', 'true'], '-l adds its own commands');
    await local.stop();
    t.same(readdirSync(bin).sort(), ['false', 'true'], '-k keeps them');

    rmSync(join(bin, 'false'));
    writeFile(join(bin, 'false'), '#!/bin/sh\necho mine\n', 0o755);
    const refused = await run(DAEMON, ['--name', 'nobody', '-e', bin], { env: ws.env, cwd: ws.dir });
    t.equal(refused.code, 1);
    t.match(refused.err, /refusing to replace .*false: it is not a k8psh stub/);
    t.equal(readFileSync(join(bin, 'false'), 'utf8'), '#!/bin/sh\necho mine\n', 'the foreign file is intact');
    const forced = await run(DAEMON, ['--name', 'nobody', '-e', bin, '-o'], { env: ws.env, cwd: ws.dir });
    t.equal(forced.code, 0, forced.err);
    t.ok(lstatSync(join(bin, 'false')).isSymbolicLink(), '-o replaces it');

    const disabled = await run(DAEMON, ['--name', 'nobody', '-e', bin, '-d'], { env: ws.env, cwd: ws.dir });
    t.equal(disabled.code, 0);
    t.same(readdirSync(bin), [], '-d deletes stale stubs and creates none');
  },
);

t.test(
  '--install writes the front and its runtime directory; installed copies run',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const dir = tempDir();
    t.teardown(() => cleanup(dir));
    const target = join(dir, 'bin', 'k8pshd');
    writeFile(join(dir, 'bin', '.keep'), '');
    const r = await run(BIN, ['--install', target]);
    t.equal(r.code, 0, r.err);
    const runtime = readdirSync(join(dir, 'bin')).filter((n) => n.startsWith('.k8psh-runtime-'));
    t.equal(runtime.length, 1, 'one runtime directory beside it');
    t.ok(statSync(target).size < 1024 * 1024, 'the front alone: the runtime is beside it');
    t.equal(statSync(target).mode & 0o777, 0o755);
    const again = await run(BIN, ['--install', target]);
    t.equal(again.code, 0, 'installing over an existing file works');
    const served = await run(target, ['--version']);
    t.match(served.out, /^k8pshd .* node v24\./, 'the installed copy runs, and by its name is the server');

    // From an installed copy, by the option parser (not the whole command line): a hard link.
    const second = join(dir, 'second', 'k8psh');
    writeFile(join(dir, 'second', '.keep'), '');
    const fromCopy = await run(BIN, ['--install', join(dir, 'bin', 'k8psh')]);
    t.equal(fromCopy.code, 0, fromCopy.err);
    const viaParser = await run(join(dir, 'bin', 'k8psh'), ['-c', '/nonexistent', '--install', second]);
    t.equal(viaParser.code, 0, viaParser.err);
    t.equal(
      statSync(second).ino,
      statSync(join(dir, 'bin', 'k8psh')).ino,
      'a hard link on the same filesystem',
    );
    t.same(
      readdirSync(join(dir, 'second')).filter((n) => n.startsWith('.k8psh-runtime-')),
      runtime,
    );

    if (existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(BIN).dev) {
      const shm = tempDirIn('/dev/shm');
      t.teardown(() => cleanup(shm));
      const copy = join(shm, 'k8pshd');
      const c = await run(join(dir, 'bin', 'k8psh'), ['--install', copy]);
      t.equal(c.code, 0, c.err);
      t.equal(statSync(copy).mode & 0o777, 0o755, 'a copy with mode 0755 across filesystems');
      t.equal(statSync(copy).size, statSync(target).size);
      const version = await run(copy, ['--version']);
      t.match(version.out, /^k8pshd /, 'the copy runs, and by its name is the server');
    }
    const bad = await run(BIN, ['--install', '/nonexistent/dir/k8pshd']);
    t.equal(bad.code, 1);
    t.match(bad.err, /^k8psh: cannot install to \/nonexistent\/dir\/k8pshd: /);
    const badParsed = await run(BIN, ['-c', '/x', '--install', '/nonexistent/dir/k8pshd']);
    t.equal(badParsed.code, 1);
    t.equal(badParsed.err, 'k8psh: cannot install to /nonexistent/dir/k8pshd: No such file or directory\n');
  },
);

t.test('front end and server command lines', { skip: SKIP_UNBUILT }, async (t) => {
  const version = await run(BIN, ['--version']);
  t.equal(version.code, 0);
  t.match(version.out, /^k8psh \d+\.\d+\.\d+/);
  const help = await run(BIN, ['--help']);
  t.match(help.out, /Usage: k8psh \[options\] command/);
  const dhelp = await run(DAEMON, ['--help']);
  t.match(dhelp.out, /--executable-directory/);
  t.match(dhelp.out, /--max-connections/);
  const viaServerFlag = await run(BIN, ['-s', '--version']);
  t.match(viaServerFlag.out, /^k8pshd /, '-s hands the rest to the server parser');
  const bogus = await run(DAEMON, ['--bogus']);
  t.equal(bogus.code, 1);
  t.match(bogus.err, /^k8pshd: unrecognized option --bogus/);
  const missingConfig = await run(BIN, ['-c', '/nonexistent.conf', 'cmd']);
  t.equal(missingConfig.code, 1);
  t.match(missingConfig.err, /^k8psh: .*\/nonexistent\.conf/);
  t.equal(missingConfig.err.split('\n').length, 2, 'one line');
});

function tempDirIn(parent: string): string {
  const dir = join(parent, `k8psh-e2e-${process.pid}-${Date.now()}`);
  writeFile(join(dir, '.keep'), '');
  return dir;
}

t.test('--convert-config prints the TOML twin', { skip: SKIP_UNBUILT }, async (t) => {
  const r = await run(BIN, ['--convert-config', join(ROOT, 'config/k8psh.conf')]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\[\[servers\]\]/);
  t.match(r.out, /name = "local"/);
  const bad = await run(BIN, ['--convert-config', '/nonexistent.conf']);
  t.equal(bad.code, 1);
  t.match(bad.err, /^k8psh: .*\/nonexistent\.conf/);
});

t.test(
  'logs: JSON lines from the server, debug per component with K8PSH_DEBUG',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const port = await freePort();
    const ws = await makeWorkspace(`[ srv:${port} ]\ntrue\n`);
    t.teardown(() => cleanup(ws.dir));
    const server = await startServer(['--name', 'srv'], port, {
      env: { ...ws.env, K8PSH_DEBUG: 'Process' },
      cwd: ws.dir,
    });
    const client = await run(join(ws.bin, 'true'), [], {
      env: { ...ws.env, K8PSH_DEBUG: 'Main' },
      cwd: ws.dir,
    });
    t.equal(client.code, 0);
    t.match(client.err, /^k8psh\[\d+\] Main: running true on srv:\d+/m, 'client debug lines when asked');
    const quiet = await run(join(ws.bin, 'true'), [], { env: ws.env, cwd: ws.dir });
    t.equal(quiet.err, '', 'and nothing otherwise: a stub\u2019s stderr belongs to the command');
    await server.stop();
    const lines = server
      .stderr()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; component: string; msg: string });
    t.ok(lines.some((l) => l.msg === 'listening' && l.component === 'Main'));
    t.ok(
      lines.some((l) => l.level === 20 && l.component === 'Process' && l.msg === 'starting'),
      'Process debug',
    );
    t.notOk(
      lines.some((l) => l.level === 20 && l.component === 'Main'),
      'Main stays at info',
    );
  },
);

/**
 * Exactness of the native stub (issue 15, docs/native-stubs.md): the same call made each way
 * (test/lib/ways.ts: forced through the TypeScript client, the default way, K8PSH_NATIVE=1) gives the
 * same outcome — stdout and stderr bytes, exit status, death by signal, error messages — and the real
 * k8pshd's command (test/lib/recorder.c) receives the same arguments, environ, working directory and
 * kinds of descriptors. Each outcome is also checked against what the config says it must be.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, cleanup, freePorts, SKIP_UNBUILT, sleep, startServer, tempDir, writeFile } from './harness.js';
import { buildRecorder, RecordBox, type Received } from '../lib/recorder.js';
import {
  nativeBuilt,
  nativeInSources,
  refused,
  runWay,
  wayEnv,
  WAYS,
  type Outcome,
  type Way,
} from '../lib/ways.js';

t.test('the same outcome each way', { skip: SKIP_UNBUILT }, async (t) => {
  const native = await nativeBuilt();
  t.equal(
    native,
    nativeInSources(),
    'dist/k8psh has the native stub exactly when its sources do (rebuild if not)',
  );
  t.comment(
    native ? 'native stub built in: K8PSH_NATIVE=1 proves it ran' : 'no native stub yet: 3rd way = default',
  );
  const dir = realpathSync(tempDir('k8psh-diff-'));
  const rec = buildRecorder(dir);
  const box = new RecordBox(join(dir, 'records'));
  const R = `${rec} ${box.dir}`;
  const [port, port2] = (await freePorts(2)) as [number, number];
  const base = join(dir, 'base');
  writeFile(join(base, 'noexec.txt'), 'not a program\n', 0o644);
  mkdirSync(join(base, 'sub dir', 'only-here'), { recursive: true });
  const commands = `
ok      ${R} args --
fail    ${R} exit=1 --
answer  ${R} "out=forty-two\\n" "err=to stderr\\n" exit=42 --
max     ${R} exit=255 --
term    ${R} "out=before\\n" sig=15 --
int     ${R} sig=2 --
kill    ${R} sig=9 --
quit    ${R} sig=3 --
segv    ${R} sig=11 --
cat     ${R} cat --
trapint /bin/sh -c 'trap "echo got INT; exit 5" INT; echo ready; while :; do sleep 0.05; done'
waiter  ${R} "out=ready\\n" sleep=20000 --
env     LANG=C.UTF-8 ?OPT= ?WITHDEF=fallback =INH=inherited REQ='\${LANG}-x' LOAD=\${LOADVAR:-none} ${R} args --
missing /nonexistent/program
noexec  ./noexec.txt
`;
  const config = writeFile(
    join(base, 'k8psh.conf'),
    `connectTimeoutMs = 3000\n[ srv:${port} ]${commands}[ srv2:${port2} ]\nelsewhere ${R} args --\n`,
  );
  // srv2 has its own config whose base directory lacks `sub dir/only-here`: a bad working directory (1).
  const otherBase = join(dir, 'other');
  mkdirSync(otherBase);
  const config2 = writeFile(
    join(dir, 'server2.conf'),
    `baseDirectory = ${otherBase}\n[ srv2:${port2} ]\nelsewhere ${R} --\n`,
  );
  const bin = join(dir, 'bin');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    K8PSH_CONFIG: config,
    K8PSH_CACHE_DIR: join(dir, 'cache'),
    K8PSH_TTY: '0',
  };
  const server = await startServer(['--name', 'srv', '-e', bin, '-l'], port, { env, cwd: base });
  const server2 = await startServer(['--name', 'srv2', '-c', config2, '-d'], port2, { env, cwd: base });
  t.teardown(async () => {
    await Promise.all([server.stop(), server2.stop()]);
    cleanup(dir);
  });

  /** Runs the stub each way; every way must give one outcome and one record (or none). */
  async function eachWay(
    name: string,
    args: string[] = [],
    options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; ran?: boolean } = {},
  ): Promise<{ outcome: Outcome; record: Received | null }> {
    const results = new Map<Way, { outcome: Outcome; record: Received | null }>();
    for (const way of WAYS) {
      const outcome = await runWay(way, join(bin, name), args, {
        env: options.env ?? env,
        cwd: options.cwd ?? base,
        input: options.input,
      });
      const records = box.take();
      if (records.length > 1) throw new Error(`${name}: ${records.length} records for one call`);
      results.set(way, { outcome, record: records[0] ?? null });
    }
    const ts = results.get('ts')!;
    t.same(results.get('first'), ts, `${name}: the default way gives the same`);
    const nativeResult = results.get('native')!;
    if (native)
      t.notOk(refused(nativeResult.outcome), `${name}: ran natively (${nativeResult.outcome.stderr.trim()})`);
    t.same(nativeResult, ts, `${name}: the native way is the same`);
    t.equal(ts.record !== null, options.ran ?? true, `${name}: the command ran (or not) as expected`);
    return ts;
  }

  t.test('exit codes 0, 1, 42, 255 and the bytes of both streams', async (t) => {
    const ok = await eachWay('ok', ['a b', '', 'ünï', '\'"$x']);
    t.same(ok.outcome, {
      code: 0,
      signal: null,
      stdout: Buffer.from('a b\n\nünï\n\'"$x\n').toString('latin1'),
      stderr: '',
    });
    t.same(ok.record!.argv, [rec, box.dir, 'args', '--', 'a b', '', 'ünï', '\'"$x']);
    t.equal(ok.record!.cwd, base);
    t.same(ok.record!.environ, [], 'no environment leaks in: the command has only its specs');
    t.same(
      ok.record!.fds.map((fd) => fd.replace(/:.*:/, ':')),
      ['0:notty', '1:notty', '2:notty'],
    );
    t.same((await eachWay('fail')).outcome.code, 1);
    t.same((await eachWay('answer')).outcome, {
      code: 42,
      signal: null,
      stdout: 'forty-two\n',
      stderr: 'to stderr\n',
    });
    t.same((await eachWay('max')).outcome.code, 255);
    const many = Array.from({ length: 5000 }, (_, n) => `arg ${n}`);
    t.ok((await eachWay('ok', many)).outcome.stdout === many.map((a) => `${a}\n`).join(''), '5000 arguments');
    const long = 'x'.repeat(100000);
    t.ok((await eachWay('ok', [long])).outcome.stdout === `${long}\n`, 'a long argument');
  });

  t.test('stdin is the caller’s, in every way', async (t) => {
    const r = await eachWay('cat', [], { input: 'some input\n\0binary\xff' });
    t.equal(r.outcome.stdout, Buffer.from('some input\n\0binary\xff').toString('latin1'));
  });

  t.test('death by signal: the same signal, or 128+N for a core signal, and no core file', async (t) => {
    const cwd = join(base, 'sub dir');
    t.same((await eachWay('term', [], { cwd })).outcome, {
      code: null,
      signal: 'SIGTERM',
      stdout: 'before\n',
      stderr: '',
    });
    t.same((await eachWay('int', [], { cwd })).outcome, {
      code: null,
      signal: 'SIGINT',
      stdout: '',
      stderr: '',
    });
    t.same((await eachWay('kill', [], { cwd })).outcome, {
      code: null,
      signal: 'SIGKILL',
      stdout: '',
      stderr: '',
    });
    t.same((await eachWay('quit', [], { cwd })).outcome, { code: 131, signal: null, stdout: '', stderr: '' });
    t.same((await eachWay('segv', [], { cwd })).outcome, { code: 139, signal: null, stdout: '', stderr: '' });
    t.same(
      readdirSync(cwd).filter((name) => name.startsWith('core')),
      [],
      'no core file where the stubs ran',
    );
  });

  t.test('the environment: specs, client values, empty and unset values', async (t) => {
    const cases: Array<[NodeJS.ProcessEnv, string[]]> = [
      [{}, ['LANG=C.UTF-8', 'WITHDEF=fallback', 'INH=inherited', 'REQ=C.UTF-8-x', 'LOAD=none']],
      [
        // LOADVAR is read by the config at load time: the client's value changes nothing the server does.
        { LANG: '', OPT: '', WITHDEF: '', LOADVAR: 'client value' },
        ['LANG=', 'OPT=', 'WITHDEF=', 'INH=inherited', 'REQ=-x', 'LOAD=none'],
      ],
      [
        { LANG: 'fr_FR', OPT: 'o p', REQ: 'mine', INH: 'never sent', LOAD: 'sent' },
        ['LANG=fr_FR', 'OPT=o p', 'WITHDEF=fallback', 'INH=inherited', 'REQ=mine', 'LOAD=sent'],
      ],
    ];
    for (const [extra, expected] of cases) {
      const r = await eachWay('env', [], { env: { ...env, ...extra } });
      t.same([...r.record!.environ].sort(), [...expected].sort(), JSON.stringify(extra));
    }
  });

  t.test('errors: 127, 126, 1, each printed the same way', async (t) => {
    t.same((await eachWay('missing', [], { ran: false })).outcome, {
      code: 127,
      signal: null,
      stdout: '',
      stderr: 'k8psh: /nonexistent/program: command not found\n',
    });
    t.same((await eachWay('noexec', [], { ran: false })).outcome, {
      code: 126,
      signal: null,
      stdout: '',
      stderr: 'k8psh: ./noexec.txt: Permission denied\n',
    });
    const bad = await eachWay('elsewhere', [], { cwd: join(base, 'sub dir', 'only-here'), ran: false });
    t.equal(bad.outcome.code, 1);
    t.match(bad.outcome.stderr, /^k8psh: [^\n]*only-here[^\n]*\n$/, 'one line naming the directory');
    const fine = await eachWay('elsewhere', ['x']);
    t.equal(fine.record!.cwd, otherBase, 'the server runs it in its own base directory');
  });

  t.test('hand-over cases give the TypeScript client’s answer, and K8PSH_NATIVE=1 says why', async (t) => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const cases: Array<[string, { cwd?: string; env?: NodeJS.ProcessEnv }]> = [
      ['the current directory outside the base', { cwd: outside }],
      ['a stub the config does not name', {}],
      ['K8PSH_DIRECT_STDIO=0', { env: { ...env, K8PSH_DIRECT_STDIO: '0' } }],
      ['K8PSH_DEBUG set', { env: { ...env, K8PSH_DEBUG: 'Main' } }],
      ['K8PSH_TTY=1', { env: { ...env, K8PSH_TTY: '1' } }],
      ['K8PSH_CONFIG set and empty', { env: { ...env, K8PSH_CONFIG: '' } }],
      ['K8PSH_STDIN set to a bad value', { env: { ...env, K8PSH_STDIN: 'bogus' } }],
    ];
    symlinkSync(BIN, join(bin, 'unnamed'));
    for (const [label, options] of cases) {
      const file = join(bin, label.startsWith('a stub') ? 'unnamed' : 'ok');
      const call = (way: Way): Promise<Outcome> =>
        runWay(way, file, ['h'], { env: options.env ?? env, cwd: options.cwd ?? base });
      const ts = await call('ts');
      const first = await call('first');
      const nat = await call('native');
      box.take();
      if (!label.startsWith('K8PSH_')) t.not(ts.code, 0, `${label}: an error`);
      t.same(first, ts, `${label}: the default way hands over`);
      if (native) t.ok(refused(nat), `${label}: K8PSH_NATIVE=1 refuses: ${nat.stderr.trim()}`);
      else t.same(nat, ts, label);
    }
  });

  t.test('an argument that is not valid UTF-8: handed over, the same outcome each way', async (t) => {
    // Node decodes arguments (the byte 0xff becomes U+FFFD): the native stub must not send what Node would not.
    const viaBash = (way: Way): Promise<Outcome> =>
      runWay(way, 'bash', ['-c', `exec "${join(bin, 'ok')}" "$(printf 'bad\\377')"`], { env, cwd: base });
    const ts = await viaBash('ts');
    t.same(ts, { code: 0, signal: null, stdout: Buffer.from('bad\ufffd\n').toString('latin1'), stderr: '' });
    t.same(await viaBash('first'), ts, 'the default way');
    const nat = await viaBash('native');
    if (native) t.ok(refused(nat), `K8PSH_NATIVE=1 refuses: ${nat.stderr.trim()}`);
    else t.same(nat, ts);
    box.take();
  });

  t.test('a closed stdin, stdout or stderr: /dev/null in its place, the same outcome each way', async (t) => {
    for (const redirect of ['<&-', '>&-', '2>&-']) {
      const outcomes = new Map<Way, { outcome: Outcome; fds: string[] }>();
      for (const way of WAYS) {
        const outcome = await runWay(way, 'bash', ['-c', `exec "${join(bin, 'answer')}" ${redirect}`], {
          env,
          cwd: base,
        });
        outcomes.set(way, { outcome, fds: box.one().fds });
      }
      const ts = outcomes.get('ts')!;
      t.equal(ts.outcome.code, 42, `${redirect}: the command ran`);
      t.same(outcomes.get('first'), ts, `${redirect}: the default way`);
      // The command gets /dev/null in its place either way (Node reopens a closed 0-2 so at start-up).
      t.same(outcomes.get('native'), ts, `${redirect}: the native way`);
    }
  });

  t.test('a locale that ICU cannot parse (14+ bytes): the same outcome each way', async (t) => {
    // Node itself (20 and 24 alike) dies by SIGSEGV at start-up, in ICU, when LANG, LC_ALL or
    // LC_MESSAGES is unparseable: the front stashes the locale variables away from our runtime
    // (native/front/stash.c), and the command still gets them through its specs.
    for (const name of ['LANG', 'LC_ALL', 'LC_MESSAGES']) {
      const langEnv = { ...env, [name]: 'aaaaaaaaaaaaaa' };
      const outcomes: Outcome[] = [];
      for (const way of WAYS)
        outcomes.push(await runWay(way, join(bin, 'ok'), ['x'], { env: langEnv, cwd: base }));
      box.take();
      const expected: Outcome = { code: 0, signal: null, stdout: 'x\n', stderr: '' };
      t.same(outcomes[0], expected, `${name}: the TypeScript client`);
      t.same(outcomes[1], expected, `${name}: the default way`);
      t.same(outcomes[2], expected, `${name}: the native way`);
    }
  });

  t.test('signals forwarded to the command: the same outcome each way', async (t) => {
    /** Starts the stub, waits for `ready`, sends `signal`, collects how it ended. */
    const signalled = (way: Way, name: string, signal: NodeJS.Signals): Promise<Outcome> =>
      new Promise((resolve, reject) => {
        // `env --default-signal`: a shell's background job would have INT and QUIT ignored.
        const child = spawn('env', ['--default-signal=INT,QUIT,TERM', join(bin, name)], {
          env: wayEnv(way, env),
          cwd: base,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        let sent = false;
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString('latin1');
          if (!sent && stdout.includes('ready')) {
            sent = true;
            child.kill(signal);
          }
        });
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
        child.on('error', reject);
        child.on('close', (code, sig) => resolve({ code, signal: sig, stdout, stderr }));
      });
    const cases: Array<[string, NodeJS.Signals, Outcome]> = [
      ['trapint', 'SIGINT', { code: 5, signal: null, stdout: 'ready\ngot INT\n', stderr: '' }],
      ['waiter', 'SIGTERM', { code: null, signal: 'SIGTERM', stdout: 'ready\n', stderr: '' }],
      ['waiter', 'SIGINT', { code: null, signal: 'SIGINT', stdout: 'ready\n', stderr: '' }],
      ['waiter', 'SIGHUP', { code: null, signal: 'SIGHUP', stdout: 'ready\n', stderr: '' }],
      ['waiter', 'SIGUSR1', { code: null, signal: 'SIGUSR1', stdout: 'ready\n', stderr: '' }],
      ['waiter', 'SIGQUIT', { code: 131, signal: null, stdout: 'ready\n', stderr: '' }],
    ];
    for (const [name, signal, expected] of cases)
      for (const way of WAYS)
        t.same(await signalled(way, name, signal), expected, `${name} ${signal}, ${way}`);
    box.take();
  });

  t.test('the server killed mid-session: 255 and the same message', async (t) => {
    const port3 = (await freePorts(1))[0]!;
    const config3 = writeFile(
      join(base, 'killed.conf'),
      `[ victim:${port3} ]\nslow ${R} "out=started\\n" sleep=1500 --\n`,
    );
    const env3 = { ...env, K8PSH_CONFIG: config3 };
    symlinkSync(BIN, join(bin, 'slow'));
    const outcomes: Outcome[] = [];
    for (const way of WAYS) {
      const victim = await startServer(['--name', 'victim', '-d'], port3, { env: env3, cwd: base });
      const child = spawn(join(bin, 'slow'), [], {
        env: wayEnv(way, env3),
        cwd: base,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('latin1')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
      for (let i = 0; i < 200 && !stdout.includes('started'); i++) await sleep(20);
      victim.process.kill('SIGKILL');
      outcomes.push(
        await new Promise<Outcome>((resolve) =>
          child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
        ),
      );
    }
    box.take();
    t.equal(outcomes[0]!.code, 255);
    t.match(outcomes[0]!.stderr, /^k8psh: [^\n]+\n$/, 'one line');
    t.same(outcomes[1], outcomes[0], 'default way');
    t.same(outcomes[2], outcomes[0], 'native way');
  });
});

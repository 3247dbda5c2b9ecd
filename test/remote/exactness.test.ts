/**
 * Exactness across nodes (issue 24, docs/remote.md): the same calls made through a Pod-local server
 * and through the gateway to the tools node give the same outcome — stdout and stderr bytes, exit
 * status, death by signal, error messages, forwarded signals — and the command receives the same
 * arguments, environment and working directory, mapped through a workspace mounted at different
 * paths on the two nodes. Each way a stub runs (test/lib/ways.ts) is compared: the TypeScript client
 * (to the gateway's local socket), the default way, and the native stub.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { DAEMON, freePorts, SKIP_UNBUILT, writeFile } from '../e2e/harness.js';
import { buildRecorder, RecordBox, type Received } from '../lib/recorder.js';
import { nativeBuilt, refused, runWay, wayEnv, WAYS, type Outcome, type Way } from '../lib/ways.js';
import { daemon, makeCluster, makeStubs, nodeEnv, type Cluster } from './cluster.js';
import { nodesUnsupported, spawnIn } from './nodes.js';

t.test('local and remote give the same', { skip: SKIP_UNBUILT || nodesUnsupported() }, async (t) => {
  const native = await nativeBuilt();
  // Outside the workspace, at one path both nodes see (a stale one is swept as a cluster's is).
  const recorderDir = join(realpathSync(tmpdir()), `k8psh-remote-${process.pid}-recorder`);
  mkdirSync(recorderDir, { recursive: true });
  t.teardown(() => import('node:fs').then((fs) => fs.rmSync(recorderDir, { recursive: true, force: true })));
  const rec = buildRecorder(recorderDir);
  const box = new RecordBox(join(recorderDir, 'records'));
  const R = `${rec} ${box.dir}`;
  const commands = `
ok      ${R} args --
answer  ${R} "out=forty-two\\n" "err=to stderr\\n" exit=42 --
max     ${R} exit=255 --
term    ${R} "out=before\\n" sig=15 --
kill    ${R} sig=9 --
quit    ${R} sig=3 --
segv    ${R} sig=11 --
cat     ${R} cat --
trapint /bin/sh -c 'trap "echo got INT; exit 5" INT; echo ready; while :; do sleep 0.05; done'
env     LANG=C.UTF-8 ?OPT= ?WITHDEF=fallback =INH=inherited REQ='\${LANG}-x' ${R} args --
missing /nonexistent/program
noexec  ./noexec.txt
yes     /usr/bin/yes
`;
  const cluster: Cluster = await makeCluster(t, { commands });
  // The Pod-local twin: the same section, served on the build node itself.
  const [localPort] = (await freePorts(1)) as [number];
  const localConfig = writeFile(
    join(cluster.buildWorkspace, 'local.conf'),
    `connectTimeoutMs = 5000\n[ tools:${localPort} ]${commands}`,
  );
  const localBin = join(cluster.dir, 'build-node', 'local-bin');
  const local = daemon(
    spawnIn(cluster.build, [DAEMON, '--name', 'tools', '-c', localConfig, '-e', localBin, '-l'], {
      cwd: cluster.buildWorkspace,
      env: nodeEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  await local.waitFor(/"msg":"listening"/);
  writeFile(join(cluster.buildWorkspace, 'noexec.txt'), 'not a program\n', 0o644);
  mkdirSync(join(cluster.buildWorkspace, 'sub dir'), { recursive: true });

  const envs = {
    local: { ...cluster.env, K8PSH_CONFIG: localConfig, TLS_DIR: '', K8PSH_TTY: '0' },
    remote: { ...cluster.env, K8PSH_TTY: '0' },
  };
  const bins = { local: localBin, remote: cluster.bin };
  const bases = { local: cluster.buildWorkspace, remote: cluster.toolsWorkspace };

  /** One call one way on one side: the outcome and what the command received (paths made relative). */
  async function call(
    side: 'local' | 'remote',
    way: Way,
    name: string,
    args: string[],
    options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv },
  ): Promise<{ outcome: Outcome; record: Received | null }> {
    const env = { ...envs[side], ...options.env };
    const outcome = await runWay(
      way,
      'ip',
      ['netns', 'exec', cluster.build.netns, join(bins[side], name), ...args],
      {
        env,
        cwd: options.cwd ?? cluster.buildWorkspace,
        input: options.input,
      },
    );
    const records = box.take();
    if (records.length > 1) throw new Error(`${name}: ${records.length} records for one call`);
    const record = records[0] ?? null;
    if (record) record.cwd = relative(bases[side], record.cwd);
    // Pipes locally, the server's pipes or sockets remotely: only whether each is a terminal must match.
    if (record) record.fds = record.fds.map((fd) => fd.replace(/:.*:/, ':'));
    return { outcome, record };
  }

  async function same(
    t: Test,
    name: string,
    args: string[] = [],
    options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; ran?: boolean } = {},
  ): Promise<{ outcome: Outcome; record: Received | null }> {
    const reference = await call('local', 'ts', name, args, options);
    t.equal(reference.record !== null, options.ran ?? true, `${name}: ran (or not) as expected`);
    for (const way of WAYS) {
      const remote = await call('remote', way, name, args, options);
      if (way === 'native' && native)
        t.notOk(refused(remote.outcome), `${name}: ran natively (${remote.outcome.stderr.trim()})`);
      t.same(remote, reference, `${name} ${JSON.stringify(args).slice(0, 40)}: remote ${way} = local`);
    }
    return reference;
  }

  t.test('arguments, exit codes and the bytes of both streams', async (t) => {
    const ok = await same(t, 'ok', ['a b', '', 'ünï', '\'"$x']);
    t.same(ok.outcome.stdout, Buffer.from('a b\n\nünï\n\'"$x\n').toString('latin1'));
    t.same(ok.record!.cwd, '');
    t.same((await same(t, 'answer')).outcome, {
      code: 42,
      signal: null,
      stdout: 'forty-two\n',
      stderr: 'to stderr\n',
    });
    t.equal((await same(t, 'max')).outcome.code, 255);
    const many = Array.from({ length: 3000 }, (_, n) => `arg ${n}`);
    t.equal((await same(t, 'ok', many)).outcome.stdout, many.map((a) => `${a}\n`).join(''), '3000 arguments');
  });

  t.test('stdin to EOF, binary', async (t) => {
    const input = `some input\n\0binary\xff${'z'.repeat(300000)}`;
    const r = await same(t, 'cat', [], { input });
    t.equal(r.outcome.stdout, Buffer.from(input).toString('latin1'));
  });

  t.test('death by signal, in a subdirectory mapped across the two mounts', async (t) => {
    const cwd = join(cluster.buildWorkspace, 'sub dir');
    t.same((await same(t, 'term', [], { cwd })).outcome, {
      code: null,
      signal: 'SIGTERM',
      stdout: 'before\n',
      stderr: '',
    });
    const killed = await same(t, 'kill', [], { cwd });
    t.same(killed.outcome.signal, 'SIGKILL');
    t.equal(killed.record!.cwd, 'sub dir', 'the same directory, relative to each side’s base');
    t.same((await same(t, 'quit', [], { cwd })).outcome.code, 131);
    t.same((await same(t, 'segv', [], { cwd })).outcome.code, 139);
  });

  t.test('the environment specs', async (t) => {
    const cases: Array<NodeJS.ProcessEnv> = [
      {},
      { LANG: '', OPT: '', WITHDEF: '' },
      { LANG: 'fr_FR', OPT: 'o p', INH: 'never sent' },
    ];
    for (const extra of cases) {
      const r = await same(t, 'env', [], { env: extra });
      t.ok(
        r.record!.environ.includes('INH=inherited'),
        `${JSON.stringify(extra)}: =INH from the server side`,
      );
    }
  });

  t.test('refusals: 127, 126', async (t) => {
    t.same((await same(t, 'missing', [], { ran: false })).outcome, {
      code: 127,
      signal: null,
      stdout: '',
      stderr: 'k8psh: /nonexistent/program: command not found\n',
    });
    t.same((await same(t, 'noexec', [], { ran: false })).outcome.code, 126);
  });

  t.test('a forwarded signal reaches the remote command', async (t) => {
    for (const side of ['local', 'remote'] as const)
      for (const way of WAYS) {
        const child = spawnIn(
          cluster.build,
          ['/usr/bin/env', '--default-signal=INT', join(bins[side], 'trapint')],
          {
            cwd: cluster.buildWorkspace,
            env: wayEnv(way, envs[side]),
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let out = '';
        const ready = new Promise<void>((resolve) =>
          child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            if (out.includes('ready')) resolve();
          }),
        );
        await ready;
        child.kill('SIGINT');
        const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        t.same([code, out], [5, 'ready\ngot INT\n'], `${side} ${way}: SIGINT forwarded, the trap ran`);
      }
  });

  t.test('a reader that goes away: the writer dies by SIGPIPE, as locally, and nothing hangs', async (t) => {
    for (const way of WAYS)
      for (const side of ['local', 'remote'] as const) {
        const r = await runWay(
          way,
          'ip',
          [
            'netns',
            'exec',
            cluster.build.netns,
            'bash',
            '-c',
            `${join(bins[side], 'yes')} | head -2; echo "\${PIPESTATUS[@]}"`,
          ],
          // The shell's own tools, not stubs of the same names (cat, env) from the stub directory.
          { env: { ...envs[side], PATH: '/usr/bin:/bin' }, cwd: cluster.buildWorkspace, timeoutMs: 15000 },
        );
        t.same([r.code, r.stdout], [0, 'y\ny\n141 0\n'], `${side} ${way}: yes | head -2`);
      }
  });

  t.test('without a gateway: the TypeScript client reaches the server itself, the same', async (t) => {
    await cluster.gateway!.stop();
    // The gateway took its stubs with it: plain ones, as a Pod without a gateway has.
    await makeStubs(cluster);
    for (const [name, args, input] of [
      ['ok', ['a b', 'ünï'], undefined],
      ['answer', [], undefined],
      ['cat', [], 'direct\0input'],
      ['term', [], undefined],
      ['missing', [], undefined],
    ] as const) {
      const reference = await call('local', 'ts', name, [...args], { input });
      const direct = await call('remote', 'ts', name, [...args], { input });
      t.same(direct, reference, `${name}: direct = local`);
    }
  });

  t.teardown(() => void local.stop('SIGKILL'));
});

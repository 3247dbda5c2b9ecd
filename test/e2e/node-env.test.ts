/**
 * The caller's Node environment changes nothing in k8psh (issue 13, point 4): NODE_OPTIONS (foreign
 * code, a 1 MB heap), NODE_DEBUG, NODE_V8_COVERAGE, NODE_COMPILE_CACHE, NODE_EXTRA_CA_CERTS,
 * UV_THREADPOOL_SIZE, the loader's LD_* and the rest leave a stub, the front end and the server as
 * they are (exit status, stdout, stderr, files written), while a command whose specs name such a
 * variable still gets the caller's value. A control runs our Node runtime without the front: the same
 * variables then do act, so these checks can fail.
 *
 * Every process here is started through `env -i`: tap adds its own NODE_OPTIONS to what it spawns.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  BIN,
  cleanup,
  DAEMON,
  freePort,
  ROOT,
  run,
  SKIP_UNBUILT,
  startServer,
  tempDir,
  writeFile,
  type Result,
} from './harness.js';

const ENV = '/usr/bin/env';
const dir = tempDir('k8psh-node-env-');
t.teardown(() => cleanup(dir));

const marker = join(dir, 'foreign-code-ran');
const required = writeFile(
  join(dir, 'foreign.cjs'),
  `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nconsole.log('FOREIGN CODE');\n`,
);
/** Where the hostile variables would make Node write. */
const written = {
  coverage: join(dir, 'v8-coverage'),
  compileCache: join(dir, 'compile-cache'),
  warnings: join(dir, 'warnings.txt'),
  marker,
};

/** What a build container's environment may hold, and what each would do to a Node that obeyed it. */
const HOSTILE: Record<string, string> = {
  NODE_OPTIONS: `--require ${required} --max-old-space-size=1 --trace-exit --trace-warnings`,
  NODE_DEBUG: 'net,child_process,fs,module,stream,timers,worker,esm',
  NODE_DEBUG_NATIVE: 'SEA,MODULE,WASI,PERMISSION_MODEL',
  NODE_V8_COVERAGE: written.coverage,
  NODE_COMPILE_CACHE: written.compileCache,
  NODE_EXTRA_CA_CERTS: join(dir, 'missing-ca.pem'),
  NODE_REDIRECT_WARNINGS: written.warnings,
  NODE_PENDING_DEPRECATION: '1',
  NODE_PRESERVE_SYMLINKS: '1',
  NODE_PATH: dir,
  NODE_ICU_DATA: join(dir, 'no-icu'),
  NODE_TLS_REJECT_UNAUTHORIZED: '0',
  UV_THREADPOOL_SIZE: '1',
  UV_USE_IO_URING: '0',
  OPENSSL_CONF: join(dir, 'missing-openssl.cnf'),
  LD_PRELOAD: join(dir, 'missing-preload.so'),
  LD_LIBRARY_PATH: join(dir, 'no-libraries'),
  LD_DEBUG: 'statistics',
  GLIBC_TUNABLES: 'glibc.malloc.check=3',
};

const BASE = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', K8PSH_TTY: '0' };

/** Runs a program with exactly this environment (nothing of tap's). */
function runWith(env: Record<string, string>, file: string, args: string[], cwd = dir): Promise<Result> {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return run(ENV, ['-i', ...assignments, file, ...args], { cwd, timeoutMs: 30000 });
}

/** The paths above that exist. */
function writtenFiles(): string[] {
  return Object.values(written).filter((path) => existsSync(path));
}

function outcome(result: Result): { code: number | null; signal: string | null; out: string; err: string } {
  return { code: result.code, signal: result.signal, out: result.out, err: result.err };
}

t.test('the caller Node environment changes nothing', { skip: SKIP_UNBUILT, timeout: 120000 }, async (t) => {
  const port = await freePort();
  const config = writeFile(
    join(dir, 'k8psh.conf'),
    `baseDirectory = ${dir}
[ server:${port} ]
echo
env ?NODE_OPTIONS= ?UV_THREADPOOL_SIZE= FIXED=fixed
server-env =NODE_OPTIONS= =NODE_DEBUG= env
`,
  );
  const bin = join(dir, 'bin');
  const withConfig = { ...BASE, K8PSH_CONFIG: config };
  const made = await runWith(withConfig, DAEMON, ['--executable-directory', bin, '--name', 'client']);
  t.equal(made.code, 0, `stubs made: ${made.err}`);

  // The same server twice: with a clean environment, then with the hostile one.
  const runs: Record<'clean' | 'hostile', Record<string, Result>> = { clean: {}, hostile: {} };
  for (const kind of ['clean', 'hostile'] as const) {
    const callerEnv = kind === 'clean' ? withConfig : { ...withConfig, ...HOSTILE };
    const server = await startServer(
      ['-i', ...Object.entries(callerEnv).map(([n, v]) => `${n}=${v}`), DAEMON, '--name', 'server'],
      port,
      { cwd: dir },
      ENV,
    );
    try {
      runs[kind].stub = await runWith(callerEnv, join(bin, 'echo'), ['hello', 'stub']);
      runs[kind].frontEnd = await runWith(callerEnv, BIN, ['echo', 'hello', 'front', 'end']);
      runs[kind].version = await runWith(callerEnv, BIN, ['--version']);
      runs[kind].help = await runWith(callerEnv, DAEMON, ['--help']);
      runs[kind].env = await runWith(callerEnv, join(bin, 'env'), []);
      runs[kind].serverEnv = await runWith(withConfig, join(bin, 'server-env'), []);
    } finally {
      const code = await server.stop();
      runs[kind].server = { code, signal: null, out: '', err: server.stderr() } as Result;
    }
  }

  for (const name of ['stub', 'frontEnd', 'version', 'help']) {
    t.same(
      outcome(runs.hostile[name]!),
      outcome(runs.clean[name]!),
      `${name}: same status, stdout and stderr`,
    );
    t.equal(runs.clean[name]!.code, 0, `${name} succeeds`, { err: runs.clean[name]!.err });
  }
  t.equal(runs.hostile.stub!.out, 'hello stub\n');
  t.match(
    runs.hostile.version!.out,
    /^k8psh \S+.* node v24\.\d+\.\d+\n$/,
    'the embedded Node 24 (not the caller’s)',
  );

  t.same(
    runs.hostile.env!.out.split('\n').filter(Boolean).sort(),
    ['FIXED=fixed', `NODE_OPTIONS=${HOSTILE.NODE_OPTIONS}`, 'UV_THREADPOOL_SIZE=1'],
    'a command whose specs name NODE_OPTIONS and UV_THREADPOOL_SIZE gets the caller’s values, and only those',
  );
  t.same(runs.clean.env!.out.split('\n').filter(Boolean), ['FIXED=fixed'], 'unset when the caller has none');
  t.same(
    runs.hostile.serverEnv!.out.split('\n').filter(Boolean).sort(),
    [`NODE_DEBUG=${HOSTILE.NODE_DEBUG}`, `NODE_OPTIONS=${HOSTILE.NODE_OPTIONS}`],
    "=NAME= specs hand over the server's own Node variables",
  );
  t.equal(runs.clean.serverEnv!.out, '', 'and nothing when the server has none');

  // The server's stderr: its JSON log lines only (no NODE_DEBUG/LD_DEBUG/warning text), exit 0.
  for (const kind of ['clean', 'hostile'] as const) {
    const { code, err } = runs[kind].server!;
    t.equal(code, 0, `${kind} server exits 0 on SIGTERM`, { err });
    const foreign = err.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
    t.same(foreign, [], `${kind} server: nothing but its log lines on stderr`);
  }
  t.same(writtenFiles(), [], 'no coverage, compile cache, warnings file; the foreign code never ran');
});

t.test(
  'control: the same variables act on our Node runtime started without the front',
  { skip: SKIP_UNBUILT },
  async (t) => {
    const runtime = readdirSync(join(ROOT, 'dist')).find((name) => name.startsWith('.k8psh-runtime-'));
    t.ok(runtime, 'dist/ holds the runtime directory beside the executable');
    if (runtime === undefined) return;
    const rt = join(ROOT, 'dist', runtime);
    const direct = await runWith(
      { ...BASE, NODE_V8_COVERAGE: written.coverage, NODE_DEBUG: 'module', LD_DEBUG: 'statistics' },
      join(rt, 'ld-linux-x86-64.so.2'),
      ['--library-path', rt, '--argv0', 'k8psh', join(rt, 'node'), '--version'],
    );
    t.equal(direct.code, 0, direct.err);
    t.ok(
      existsSync(written.coverage) && readdirSync(written.coverage).length > 0,
      'NODE_V8_COVERAGE wrote files',
    );
    t.match(direct.err, /runtime linker statistics/, 'LD_DEBUG printed statistics');
    cleanup(written.coverage);
  },
);

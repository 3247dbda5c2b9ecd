#!/usr/bin/env node
/**
 * k8psh benchmarks (docs/benchmarks.md): `npm run bench`.
 *
 *   node bench/run.mjs [--bin FILE] [--reference FILE] [--out DIR] [--runs N] [--smoke] [--only a,b,...]
 *
 * Environment (same meaning as the flags): K8PSH_BIN (binary under test, default dist/k8psh),
 * K8PSH_REFERENCE (the original C++ k8psh binary, measured beside ours when given; nothing builds it),
 * BENCH_OUT (where results.json and results.svg go, default bench/), BENCH_RUNS (latency runs, default
 * 21), BENCH_SMOKE=1 (tiny sizes: checks that the benchmark works, measures nothing), BENCH_KEEP=1 (keep
 * the scratch directory).
 *
 * Every figure is measured against a baseline in the same run, ours and the baselines interleaved
 * (one run of each, then again) so that a load change on this shared machine hits them alike;
 * medians with their spread are reported. The benchmark starts its own k8pshd on a free port with a
 * generated configuration in a scratch directory, and stops it at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, openFds, resetPeak, round, rssMiB, statusKiB, summary } from './lib/stats.mjs';
import { renderSvg } from './lib/svg.mjs';
import { runSession, waitForPort } from './lib/wire.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const SINK = join(HERE, 'lib/sink.mjs');
const SLOW_READER = join(HERE, 'lib/slow-reader.mjs');
const NODE = process.execPath;
const MiB = 1048576;

const FIGURES = [
  'idleRss',
  'stubLatency',
  'stdoutThroughput',
  'stdinThroughput',
  'concurrentSessions',
  'concurrentStubs',
  'slowReaderRss',
  'sequentialSessions',
];

// ---------------------------------------------------------------------------------------------------
// Options

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error(
    'usage: node bench/run.mjs [--bin FILE] [--reference FILE] [--out DIR] [--runs N] [--smoke] [--only ' +
      `${FIGURES.join(',')}]`,
  );
  process.exit(2);
}

function parseOptions(argv, env) {
  const options = {
    bin: resolve(env.K8PSH_BIN || join(ROOT, 'dist/k8psh')),
    reference: env.K8PSH_REFERENCE ? resolve(env.K8PSH_REFERENCE) : null,
    out: resolve(env.BENCH_OUT || HERE),
    runs: env.BENCH_RUNS ? Number(env.BENCH_RUNS) : undefined,
    smoke: env.BENCH_SMOKE === '1' || env.BENCH_SMOKE === 'true',
    keep: env.BENCH_KEEP === '1',
    only: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    if (flag === '--bin') options.bin = resolve(value());
    else if (flag === '--reference') options.reference = resolve(value());
    else if (flag === '--out') options.out = resolve(value());
    else if (flag === '--runs') options.runs = Number(value());
    else if (flag === '--smoke') options.smoke = true;
    else if (flag === '--keep') options.keep = true;
    else if (flag === '--only') options.only = value().split(',');
    else if (flag === '-h' || flag === '--help') usage();
    else usage(`unknown argument ${argv[i]}`);
  }
  options.runs ??= options.smoke ? 3 : 21;
  if (!(options.runs >= 1)) usage('--runs must be a positive number');
  for (const name of options.only ?? []) if (!FIGURES.includes(name)) usage(`unknown figure ${name}`);
  if (!existsSync(options.bin)) {
    console.error(`bench: ${options.bin} does not exist (npm run build, or set K8PSH_BIN)`);
    process.exit(1);
  }
  if (options.reference && !existsSync(options.reference)) {
    console.error(`bench: K8PSH_REFERENCE=${options.reference} does not exist`);
    process.exit(1);
  }
  options.sizes = options.smoke
    ? {
        stdout: 1 * MiB,
        stdin: 1 * MiB,
        slow: 4 * MiB,
        slowRate: 64,
        concurrent: 10,
        stubs: 4,
        sequential: 20,
        warmUp: 5,
        rounds: 1,
      }
    : {
        stdout: 1024 * MiB,
        stdin: 256 * MiB,
        slow: 512 * MiB,
        slowRate: 64,
        concurrent: 200,
        stubs: 200,
        sequential: 2000,
        warmUp: 200,
        rounds: 3,
      };
  options.settleMs = options.smoke ? 200 : 1500;
  return options;
}

// ---------------------------------------------------------------------------------------------------
// Processes

const sleep = (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
const quote = (text) => `'${String(text).replace(/'/g, "'\\''")}'`;

/** Runs a command to its end; resolves with its status and output. Never rejects on a non-zero exit. */
function run(file, args, { env = process.env, cwd, input, timeoutMs = 15 * 60 * 1000, stdio, onSpawn } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: stdio ?? ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout?.on('data', (chunk) => out.push(chunk));
    child.stderr?.on('data', (chunk) => err.push(chunk));
    child.stdin?.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    if (child.stdin) child.stdin.end(input);
    onSpawn?.(child);
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const perf = ['/usr/bin/perf', '/usr/local/bin/perf'].find((file) => existsSync(file)) ?? null;
let perfWorks = perf !== null;

/** Wall time of one run (ms), and its CPU time (user + system, ms) through `perf stat` when asked and possible. */
function timeOnce(file, args, env, cwd, withCpu) {
  if (withCpu) {
    const result = spawnSync(perf, ['stat', '-x,', '-e', 'task-clock', '--', file, ...args], {
      env,
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const line = result.stderr.split('\n').find((l) => l.includes('task-clock'));
    const cpu = Number(line?.split(',')[0]);
    if (!Number.isFinite(cpu)) perfWorks = false;
    return { ok: result.status === 0, cpu };
  }
  const start = process.hrtime.bigint();
  const result = spawnSync(file, args, { env, cwd, stdio: 'ignore' });
  return {
    ok: result.status === 0,
    wall: Number(process.hrtime.bigint() - start) / 1e6,
    status: result.status,
  };
}

// ---------------------------------------------------------------------------------------------------
// A k8psh under test (ours, or the original): its server on a free port, its stubs, its configuration

/**
 * A k8psh under test: a scratch directory with its configuration (commands true, echo, head and sink),
 * its stubs (outside the working directory: the server looks a command up relative to it first), and
 * its server. `restart()` starts a fresh server on a new port, for the memory figures.
 */
async function startTarget(name, binary, scratch, settleMs) {
  const dir = join(scratch, name);
  const work = join(dir, 'work');
  const bin = join(dir, 'bin');
  const serverBin = join(dir, 'server-bin');
  const serverStubs = join(dir, 'server-stubs');
  for (const d of [work, bin, serverBin, serverStubs]) mkdirSync(d, { recursive: true });
  for (const command of ['true', 'echo', 'head', 'sink']) symlinkSync(binary, join(bin, command));
  symlinkSync(binary, join(serverBin, 'k8pshd'));
  const config = join(dir, 'k8psh.conf');
  const env = { ...process.env, K8PSH_CONFIG: config };
  delete env.K8PSH_DEBUG;
  delete env.K8PSH_TTY;
  const log = [];
  let server = null;
  let dead = true;
  const target = {
    name,
    binary,
    env,
    work,
    stub: (command) => join(bin, command),
    port: 0,
    pid: 0,
    idleRssMiB: NaN,
    log: () => Buffer.concat(log).toString(),
    async start() {
      target.port = await freePort();
      writeFileSync(
        config,
        [
          '# generated by bench/run.mjs',
          'baseDirectory = work',
          `[bench:${target.port}]`,
          'true',
          'echo',
          'head',
          `sink ${quote(NODE)} ${quote(SINK)}`,
          '',
        ].join('\n'),
      );
      server = spawn(join(serverBin, 'k8pshd'), ['-c', config, '-n', 'bench', '-d', '-e', serverStubs], {
        cwd: work,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      dead = false;
      server.stderr.on('data', (chunk) => log.push(chunk));
      server.on('exit', () => (dead = true));
      try {
        await waitForPort(target.port, 20000, () => dead);
      } catch (error) {
        throw new Error(`${name}: ${error.message}\n${target.log()}`, { cause: error });
      }
      await sleep(settleMs);
      target.pid = server.pid;
      target.idleRssMiB = rssMiB(server.pid);
    },
    async stop() {
      if (dead || !server) return;
      const child = server;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await new Promise((resolveExit) => (dead ? resolveExit() : child.once('exit', resolveExit)));
      clearTimeout(timer);
    },
    async restart() {
      await target.stop();
      await target.start();
    },
  };
  await target.start();
  return target;
}

// ---------------------------------------------------------------------------------------------------
// Figures. Each returns { title, unit, better, bars: [{label, value, role, ratio?}], targets, ...details }

function bar(label, value, role, extra = {}) {
  return { label, value: round(value), role, ...extra };
}

function spreadOf(s) {
  return {
    spread: `min ${s.min}, p25 ${s.p25}, p75 ${s.p75}, max ${s.max}, n=${s.runs}`,
    spreadRange: [s.p25, s.p75],
  };
}

async function stubLatency(ctx) {
  const { ours, reference, options } = ctx;
  const cases = [
    {
      label: 'k8psh stub → true',
      role: 'ours',
      file: ours.stub('true'),
      args: [],
      env: ours.env,
      cwd: ours.work,
    },
    ...(reference
      ? [
          {
            label: 'original k8psh stub',
            role: 'reference',
            file: reference.stub('true'),
            args: [],
            env: reference.env,
            cwd: reference.work,
          },
        ]
      : []),
    {
      label: 'k8psh stub, relayed',
      role: 'info',
      file: ours.stub('true'),
      args: [],
      env: { ...ours.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: ours.work,
    },
    { label: '/bin/true', role: 'baseline', file: '/bin/true', args: [], env: ours.env, cwd: ours.work },
    { label: 'node -e 0', role: 'baseline', file: NODE, args: ['-e', '0'], env: ours.env, cwd: ours.work },
  ].map((c) => ({ ...c, wall: [], cpu: [] }));
  // Wall time: interleaved rounds after one warm-up round.
  for (let round_ = 0; round_ <= options.runs; round_++) {
    for (const c of cases) {
      const result = timeOnce(c.file, c.args, c.env, c.cwd, false);
      if (!result.ok) throw new Error(`${c.label} failed with status ${result.status}`);
      if (round_ > 0) c.wall.push(result.wall);
    }
  }
  // CPU time (user + system of the process itself): far less sensitive to the other load of the machine.
  if (perfWorks) {
    const cpuRuns = Math.max(3, Math.ceil(options.runs / 2));
    for (let round_ = 0; round_ < cpuRuns && perfWorks; round_++)
      for (const c of cases) c.cpu.push(timeOnce(c.file, c.args, c.env, c.cwd, true).cpu);
  }
  const stats = cases.map((c) => ({
    ...c,
    wallStats: summary(c.wall),
    cpuStats: c.cpu.length && perfWorks ? summary(c.cpu) : null,
  }));
  const [oursStats] = stats;
  const node = stats.find((c) => c.label === 'node -e 0');
  const ratio = oursStats.wallStats.median / node.wallStats.median;
  const cpuRatio =
    oursStats.cpuStats && node.cpuStats ? oursStats.cpuStats.median / node.cpuStats.median : null;
  const figure = {
    title: 'Stub latency: a stub running `true` remotely',
    subtitle: `median wall time of ${options.runs} interleaved runs`,
    unit: 'ms',
    better: 'lower',
    bars: stats.map((c) =>
      bar(c.label, c.wallStats.median, c.role, {
        ...spreadOf(c.wallStats),
        ...(c.role !== 'ours' ? { ratio: oursStats.wallStats.median / c.wallStats.median } : {}),
        ...(c.cpuStats ? { note: `cpu ${c.cpuStats.median} ms` } : {}),
      }),
    ),
    wall: Object.fromEntries(stats.map((c) => [c.label, c.wallStats])),
    cpu: Object.fromEntries(stats.filter((c) => c.cpuStats).map((c) => [c.label, c.cpuStats])),
    ratios: {
      'wall vs node -e 0': round(ratio, 3),
      ...(cpuRatio ? { 'cpu vs node -e 0': round(cpuRatio, 3) } : {}),
      'wall vs /bin/true': round(
        oursStats.wallStats.median / stats.find((c) => c.label === '/bin/true').wallStats.median,
        2,
      ),
      ...(reference
        ? { 'wall vs original': round(oursStats.wallStats.median / stats[1].wallStats.median, 2) }
        : {}),
    },
    targets: [
      { text: '≤ 1.10 × node -e 0 (wall median)', actual: `${ratio.toFixed(3)}×`, met: ratio <= 1.1 },
    ],
  };
  if (cpuRatio)
    figure.note = `CPU time (perf stat task-clock, median of ${stats[0].cpuStats.runs}): ours ${cpuRatio.toFixed(3)} × node -e 0`;
  return figure;
}

/** `producer | node sink.mjs` through sh (real pipes, as in a shell); the sink reports bytes and rate. */
async function throughputRun(producer, env, cwd, bytes) {
  const start = process.hrtime.bigint();
  const result = await run('sh', ['-c', producer], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const line = result.stdout.trim().split('\n').pop() ?? '';
  let report;
  try {
    report = JSON.parse(line);
  } catch {
    throw new Error(
      `${producer}: no report (status ${result.code}): ${result.stderr.slice(0, 500)}${line.slice(0, 200)}`,
    );
  }
  if (report.bytes !== bytes)
    throw new Error(`${producer}: ${report.bytes} bytes arrived, ${bytes} expected`);
  return { rate: report.mibPerSecond, wall };
}

async function throughput(ctx, direction) {
  const { ours, reference, options } = ctx;
  const bytes = direction === 'stdout' ? options.sizes.stdout : options.sizes.stdin;
  const sinkCommand = `${quote(NODE)} ${quote(SINK)}`;
  const pipelines = (target) =>
    direction === 'stdout'
      ? `${quote(target.stub('head'))} -c ${bytes} /dev/zero | ${sinkCommand}`
      : `head -c ${bytes} /dev/zero | ${quote(target.stub('sink'))}`;
  const cases = [
    {
      label: direction === 'stdout' ? 'k8psh: remote head -c' : 'k8psh: into remote cat',
      role: 'ours',
      producer: pipelines(ours),
      target: ours,
    },
    ...(reference
      ? [{ label: 'original k8psh', role: 'reference', producer: pipelines(reference), target: reference }]
      : []),
    {
      // The fallback (no local socket: another network namespace, an original server, ...).
      label: 'k8psh relayed over TCP',
      role: 'info',
      producer: pipelines(ours),
      target: ours,
      env: { ...ours.env, K8PSH_DIRECT_STDIO: '0' },
    },
    {
      label: 'local pipe (head | cat)',
      role: 'baseline',
      producer: `head -c ${bytes} /dev/zero | ${sinkCommand}`,
      target: ours,
    },
  ].map((c) => ({ ...c, rates: [], walls: [] }));
  for (let i = 0; i < options.sizes.rounds; i++) {
    for (const c of cases) {
      const { rate, wall } = await throughputRun(c.producer, c.env ?? c.target.env, c.target.work, bytes);
      c.rates.push(rate);
      c.walls.push(wall);
    }
  }
  const stats = cases.map((c) => ({ ...c, s: summary(c.rates), w: summary(c.walls) }));
  const oursRate = stats[0].s.median;
  const local = stats.find((c) => c.role === 'baseline').s.median;
  const ratio = oursRate / local;
  const minimum = direction === 'stdout' ? 1000 : 700;
  const targets = [
    { text: `≥ ${minimum} MiB/s`, actual: `${oursRate.toFixed(0)} MiB/s`, met: oursRate >= minimum },
  ];
  if (direction === 'stdout')
    targets.push({ text: '≥ 0.7 × local pipe', actual: `${ratio.toFixed(2)}×`, met: ratio >= 0.7 });
  return {
    title:
      direction === 'stdout'
        ? `stdout throughput: ${bytes / MiB} MiB from a remote \`head -c\``
        : `stdin throughput: ${bytes / MiB} MiB into a remote cat`,
    subtitle: `median of ${options.sizes.rounds}; rate from the first byte to the end`,
    unit: 'MiB/s',
    better: 'higher',
    bytes,
    bars: stats.map((c) =>
      bar(c.label, c.s.median, c.role, {
        ...spreadOf(c.s),
        ...(c.role !== 'ours' ? { ratio: oursRate / c.s.median } : {}),
      }),
    ),
    rate: Object.fromEntries(stats.map((c) => [c.label, c.s])),
    wallSeconds: Object.fromEntries(stats.map((c) => [c.label, c.w])),
    ratios: {
      'vs local pipe': round(ratio, 3),
      'relayed vs local pipe': round(stats.find((c) => c.role === 'info').s.median / local, 3),
      ...(reference ? { 'vs original': round(oursRate / stats[1].s.median, 2) } : {}),
    },
    targets,
    note:
      direction === 'stdout'
        ? "ours: the remote head writes into the stub's own pipe; relayed: K8PSH_DIRECT_STDIO=0"
        : "ours: the remote sink reads the stub's own pipe; relayed: K8PSH_DIRECT_STDIO=0",
  };
}

/** Bars, wrong-output counts and the target of a concurrency figure; `stats[0]` is ours (times in `s`). */
function concurrencyBars(stats) {
  const ours = stats[0];
  return {
    bars: stats.map((c) =>
      bar(c.label, c.s.median, c.role, {
        ...spreadOf(c.s),
        ...(c.role !== 'ours' ? { ratio: ours.s.median / c.s.median } : {}),
        note: `${c.wrong} wrong`,
      }),
    ),
    wrongOutputs: Object.fromEntries(stats.map((c) => [c.label, c.wrong])),
    targets: [{ text: 'no wrong output', actual: `${ours.wrong} wrong`, met: ours.wrong === 0 }],
  };
}

async function concurrentSessions(ctx) {
  const { ours, reference, options } = ctx;
  const n = options.sizes.concurrent;
  const expected = (i) => `session-${i}\n`;
  const viaServer = async (target) => {
    const start = process.hrtime.bigint();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => runSession(target.port, 'echo', [`session-${i}`])),
    );
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const wrong = results.filter((r, i) => r.code !== 0 || r.stdout !== expected(i)).length;
    return { ms, wrong };
  };
  const local = async () => {
    const start = process.hrtime.bigint();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        run('echo', [`session-${i}`], { stdio: ['ignore', 'pipe', 'pipe'] }),
      ),
    );
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const wrong = results.filter((r, i) => r.code !== 0 || r.stdout !== expected(i)).length;
    return { ms, wrong };
  };
  const cases = [
    { label: `k8psh server, ${n} at once`, role: 'ours', go: () => viaServer(ours) },
    ...(reference
      ? [{ label: 'original k8psh server', role: 'reference', go: () => viaServer(reference) }]
      : []),
    { label: `${n} local echo processes`, role: 'baseline', go: local },
  ].map((c) => ({ ...c, times: [], wrong: 0 }));
  for (let i = 0; i < options.sizes.rounds; i++) {
    for (const c of cases) {
      const { ms, wrong } = await c.go();
      c.times.push(ms);
      c.wrong += wrong;
    }
  }
  const stats = cases.map((c) => ({ ...c, s: summary(c.times) }));
  const oursStats = stats[0];
  return {
    title: `${n} concurrent sessions (one client process, wire protocol)`,
    subtitle: `wall time until all ${n} exited; every output checked; median of ${options.sizes.rounds}`,
    unit: 'ms',
    better: 'lower',
    sessions: n,
    ...concurrencyBars(stats),
    ratios: { 'vs local processes': round(oursStats.s.median / stats.at(-1).s.median, 2) },
    note: 'the client speaks the original protocol from bench/lib/wire.mjs; the remote command is echo session-N',
  };
}

async function concurrentStubs(ctx) {
  const { ours, reference, options } = ctx;
  const n = options.sizes.stubs;
  const expected = (i) => `stub-${i}\n`;
  const wave = async (file, prefixArgs, env, cwd) => {
    const start = process.hrtime.bigint();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        run(file, [...prefixArgs, `stub-${i}`], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] }),
      ),
    );
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, wrong: results.filter((r, i) => r.code !== 0 || r.stdout !== expected(i)).length };
  };
  const cases = [
    {
      label: `${n} k8psh stubs (echo)`,
      role: 'ours',
      go: () => wave(ours.stub('echo'), [], ours.env, ours.work),
    },
    ...(reference
      ? [
          {
            label: `${n} original stubs`,
            role: 'reference',
            go: () => wave(reference.stub('echo'), [], reference.env, reference.work),
          },
        ]
      : []),
    {
      label: `${n} × node -p (Node floor)`,
      role: 'baseline',
      go: () => wave(NODE, ['-p', 'process.argv[1]'], ours.env, ours.work),
    },
  ].map((c) => ({ ...c, times: [], wrong: 0 }));
  for (let i = 0; i < options.sizes.rounds; i++) {
    for (const c of cases) {
      const { ms, wrong } = await c.go();
      c.times.push(ms);
      c.wrong += wrong;
    }
  }
  const stats = cases.map((c) => ({ ...c, s: summary(c.times) }));
  const oursStats = stats[0];
  return {
    title: `${n} concurrent stub processes`,
    subtitle: `${n} processes started at once; wall time until all exited; every output checked`,
    unit: 'ms',
    better: 'lower',
    processes: n,
    ...concurrencyBars(stats),
    ratios: { 'vs node floor': round(oursStats.s.median / stats.at(-1).s.median, 3) },
    note: `with ${cpus().length} CPUs this is dominated by ${n} Node start-ups, hence the Node floor as baseline`,
  };
}

async function idleRss(ctx) {
  const { ours, reference, options } = ctx;
  const idle = spawn(NODE, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(options.settleMs);
  const nodeIdle = rssMiB(idle.pid);
  idle.kill('SIGKILL');
  const bars = [
    bar('k8pshd idle', ours.idleRssMiB, 'ours'),
    ...(reference
      ? [
          bar('original k8pshd idle', reference.idleRssMiB, 'reference', {
            ratio: ours.idleRssMiB / reference.idleRssMiB,
          }),
        ]
      : []),
    bar('node -e setInterval (idle)', nodeIdle, 'baseline', { ratio: ours.idleRssMiB / nodeIdle }),
  ];
  return {
    title: 'Server RSS, idle',
    subtitle: `VmRSS ${options.settleMs} ms after start, before any session`,
    unit: 'MiB',
    better: 'lower',
    bars,
    ratios: { 'vs idle node': round(ours.idleRssMiB / nodeIdle, 2) },
    targets: [{ text: '≤ 60 MiB', actual: `${ours.idleRssMiB.toFixed(1)} MiB`, met: ours.idleRssMiB <= 60 }],
  };
}

async function slowReaderRss(ctx) {
  const { ours, reference, options } = ctx;
  const { slow: bytes, slowRate } = options.sizes;
  const measure = async (target) => {
    const before = rssMiB(target.pid);
    const peakReset = resetPeak(target.pid);
    let serverPeak = before;
    let clientPeak = 0;
    let clientPid = null;
    const pipeline = `${quote(target.stub('head'))} -c ${bytes} /dev/zero | ${quote(NODE)} ${quote(SLOW_READER)} ${slowRate}`;
    let shell = null;
    // Relayed: with passed descriptors the server is not in the data path at all.
    const done = run('sh', ['-c', pipeline], {
      env: { ...target.env, K8PSH_DIRECT_STDIO: '0' },
      cwd: target.work,
      stdio: ['ignore', 'pipe', 'pipe'],
      onSpawn: (child) => (shell = child),
    });
    const sampler = setInterval(() => {
      serverPeak = Math.max(serverPeak, rssMiB(target.pid) || 0);
      if (clientPid === null && shell)
        clientPid =
          childrenOf(shell.pid).find((pid) => {
            try {
              return readlinkSync(`/proc/${pid}/exe`) === target.binary;
            } catch {
              return false;
            }
          }) ?? null;
      if (clientPid !== null) clientPeak = Math.max(clientPeak, rssMiB(clientPid) || 0);
    }, 20);
    const result = await done;
    clearInterval(sampler);
    if (peakReset) serverPeak = Math.max(serverPeak, statusKiB(target.pid, 'VmHWM') / 1024);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() || '{}');
    if (report.bytes !== bytes)
      throw new Error(`slow reader: ${report.bytes} bytes arrived, ${bytes} expected: ${result.stderr}`);
    return { before, serverPeak, clientPeak, rate: report.mibPerSecond, peakReset };
  };
  // A fresh server: what earlier figures left in the long-running one is reported beside, not mixed in.
  const warm = ctx.warmRssMiB ?? rssMiB(ours.pid);
  await ours.restart();
  const oursResult = await measure(ours);
  if (reference) await reference.restart();
  const refResult = reference ? await measure(reference) : null;
  const bars = [
    bar('k8pshd peak', oursResult.serverPeak, 'ours'),
    bar('k8pshd before', oursResult.before, 'baseline', { ratio: oursResult.serverPeak / oursResult.before }),
    ...(refResult
      ? [
          bar('original k8pshd peak', refResult.serverPeak, 'reference', {
            ratio: oursResult.serverPeak / refResult.serverPeak,
          }),
        ]
      : []),
    bar('stub (client) peak', oursResult.clientPeak, 'info'),
    ...(Number.isFinite(warm) ? [bar('k8pshd after throughput figs', warm, 'info')] : []),
  ];
  return {
    title: `Server peak RSS, slow reader (${bytes / MiB} MiB at ${slowRate} MiB/s)`,
    subtitle: `relayed (K8PSH_DIRECT_STDIO=0); reader ${oursResult.rate.toFixed(1)} MiB/s; VmRSS sampled every 20 ms${oursResult.peakReset ? ' + VmHWM' : ''}`,
    unit: 'MiB',
    better: 'lower',
    bytes,
    bars,
    server: {
      beforeMiB: round(oursResult.before),
      peakMiB: round(oursResult.serverPeak),
      afterThroughputFiguresMiB: round(warm),
    },
    client: { peakMiB: round(oursResult.clientPeak) },
    readerMiBPerSecond: round(oursResult.rate),
    ...(refResult
      ? { reference: { beforeMiB: round(refResult.before), peakMiB: round(refResult.serverPeak) } }
      : {}),
    ratios: { 'peak vs before': round(oursResult.serverPeak / oursResult.before, 2) },
    targets: [
      {
        text: '≤ 100 MiB',
        actual: `${oursResult.serverPeak.toFixed(1)} MiB`,
        met: oursResult.serverPeak <= 100,
      },
    ],
    note: 'on a freshly started server; "after throughput figs": the long-running server after the full-speed figures',
  };
}

async function sequentialSessions(ctx) {
  const { ours, options } = ctx;
  const { sequential: n, warmUp } = options.sizes;
  await ours.restart();
  const trajectory = [];
  const sessions = async (count, record) => {
    let failed = 0;
    for (let i = 1; i <= count; i++) {
      if ((await runSession(ours.port, 'true')).code !== 0) failed++;
      if (record && i % Math.max(1, Math.floor(count / 8)) === 0)
        trajectory.push({ sessions: i, rssMiB: round(rssMiB(ours.pid)), fds: openFds(ours.pid) });
    }
    return failed;
  };
  await sessions(warmUp, false);
  await sleep(options.settleMs);
  const before = { fds: openFds(ours.pid), rssMiB: rssMiB(ours.pid) };
  const start = process.hrtime.bigint();
  const failed = await sessions(n, true);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await sleep(options.settleMs);
  const after = { fds: openFds(ours.pid), rssMiB: rssMiB(ours.pid) };
  const rssDelta = after.rssMiB - before.rssMiB;
  const noise = Math.max(5, 0.1 * before.rssMiB);
  return {
    title: `${n} sequential sessions: server fds and RSS`,
    subtitle: `after ${warmUp} warm-up sessions; ${((seconds * 1000) / n).toFixed(2)} ms per session; ${failed} failed`,
    unit: 'MiB',
    better: 'lower',
    sessions: n,
    failed,
    msPerSession: round((seconds * 1000) / n, 3),
    before: { fds: before.fds, rssMiB: round(before.rssMiB) },
    after: { fds: after.fds, rssMiB: round(after.rssMiB) },
    trajectory,
    bars: [
      bar(`RSS after ${n}`, after.rssMiB, 'ours', { note: `${after.fds} fds` }),
      bar('RSS before', before.rssMiB, 'baseline', {
        ratio: after.rssMiB / before.rssMiB,
        note: `${before.fds} fds`,
      }),
    ],
    ratios: { 'RSS after vs before': round(after.rssMiB / before.rssMiB, 3) },
    targets: [
      { text: 'no fd growth', actual: `${before.fds} → ${after.fds}`, met: after.fds <= before.fds },
      {
        text: `RSS within noise (±${noise.toFixed(1)} MiB)`,
        actual: `${rssDelta >= 0 ? '+' : ''}${rssDelta.toFixed(1)} MiB`,
        met: Math.abs(rssDelta) <= noise,
      },
      { text: 'every session exits 0', actual: `${failed} failed`, met: failed === 0 },
    ],
    note: `a fresh server; RSS along the way: ${trajectory.map((t) => t.rssMiB.toFixed(0)).join(', ')} MiB`,
  };
}

const RUNNERS = {
  idleRss,
  stubLatency,
  stdoutThroughput: (ctx) => throughput(ctx, 'stdout'),
  stdinThroughput: (ctx) => throughput(ctx, 'stdin'),
  concurrentSessions,
  concurrentStubs,
  slowReaderRss,
  sequentialSessions,
};

// ---------------------------------------------------------------------------------------------------
// Report

function table(results) {
  const rows = [['figure', 'case', 'value', 'ours ÷ this', 'spread (min p25 p75 max)']];
  for (const figure of Object.values(results.figures)) {
    for (const b of figure.bars) {
      rows.push([
        figure.title.length > 44 ? `${figure.title.slice(0, 43)}…` : figure.title,
        b.label,
        `${b.value} ${figure.unit}`,
        b.ratio !== undefined ? `${b.ratio.toFixed(2)}×` : '',
        b.spread ? b.spread.replace(/(min|p25|p75|max) /g, '').replace(/, /g, ' ') : '',
      ]);
    }
    for (const t of figure.targets ?? [])
      rows.push([
        '',
        `target ${t.text}`,
        t.actual,
        t.met === true ? 'met' : t.met === false ? 'NOT MET' : '',
        '',
      ]);
    rows.push(null);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.filter(Boolean).map((r) => r[i].length)));
  return rows
    .map((r) =>
      r === null
        ? ''
        : r
            .map((cell, i) => cell.padEnd(widths[i]))
            .join('  ')
            .trimEnd(),
    )
    .join('\n');
}

async function main() {
  const options = parseOptions(process.argv.slice(2), process.env);
  const scratch = mkdtempSync(join(tmpdir(), 'k8psh-bench-'));
  const targets = [];
  const stopAll = async () => {
    for (const target of targets) await target.stop();
    if (!options.keep) rmSync(scratch, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => void stopAll().then(() => process.exit(130)));
  const results = {
    meta: {
      date: new Date().toISOString(),
      smoke: options.smoke,
      binary: options.bin,
      reference: options.reference,
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMiB: Math.round(totalmem() / MiB),
      loadAverage: loadavg().map((v) => round(v, 2)),
      runs: options.runs,
      sizes: options.sizes,
      perf: perf !== null,
    },
    figures: {},
  };
  try {
    const ours = await startTarget('k8psh', options.bin, scratch, options.settleMs);
    targets.push(ours);
    const reference = options.reference
      ? await startTarget('original', options.reference, scratch, options.settleMs)
      : null;
    if (reference) targets.push(reference);
    const ctx = { ours, reference, options };
    for (const name of FIGURES) {
      if (options.only && !options.only.includes(name)) continue;
      const started = Date.now();
      process.stderr.write(`bench: ${name}...`);
      results.figures[name] = { id: name, ...(await RUNNERS[name](ctx)) };
      if (name === 'stdinThroughput') ctx.warmRssMiB = rssMiB(ours.pid);
      process.stderr.write(` ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
    results.meta.loadAverageAfter = loadavg().map((v) => round(v, 2));
  } catch (error) {
    const logs = targets.map((t) => `--- ${t.name} server log\n${t.log()}`).join('\n');
    await stopAll();
    console.error(`\nbench: ${error instanceof Error ? error.stack : String(error)}\n${logs}`);
    process.exit(1);
  }
  await stopAll();
  mkdirSync(options.out, { recursive: true });
  writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(options.out, 'results.svg'), renderSvg(results));
  console.log(table(results));
  console.log(`\nwrote ${join(options.out, 'results.json')} and results.svg`);
}

await main();

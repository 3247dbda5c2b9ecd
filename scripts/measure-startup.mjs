#!/usr/bin/env node
/**
 * Start-up time of the single executable against plain node (hyperfine is not assumed installed).
 *
 *   node scripts/measure-startup.mjs [--runs 21] [--binary dist/k8psh] [--case 'LABEL=FILE ARGS...']...
 *
 * The commands are run round-robin (one run of each, then again), so that a machine whose load
 * changes during the measurement penalises them all alike; one warm-up round is not counted.
 * Reported per command: the median wall time, its min and max, and the median CPU time (task-clock,
 * user + system) when `perf` is installed, which is far less sensitive to other processes.
 * A stub run (a symlink named `k8psh-probe-stub`, no config file) measures the stub path up to its
 * "no such config" error.
 */
import console from 'node:console';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { interleave } from '../bench/lib/interleave.mjs';
import { cpuTime, perf, wallTime } from '../bench/lib/process.mjs';

let runs = 21;
let binary = path.resolve('dist/k8psh');
const extra = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runs') runs = Number(argv[++i]);
  else if (argv[i] === '--binary') binary = path.resolve(argv[++i]);
  else if (argv[i] === '--case') {
    const [label, command] = (argv[++i] ?? '').split(/=(.*)/s, 2);
    const [file, ...args] = (command ?? '').split(' ').filter(Boolean);
    if (!label || !file) usage();
    extra.push([label, file, args]);
  } else usage();
}
if (!(runs > 0)) usage();
if (!fs.existsSync(binary)) {
  console.error(`${binary} does not exist: npm run build`);
  process.exit(1);
}

function usage() {
  console.error(
    "usage: node scripts/measure-startup.mjs [--runs N] [--binary FILE] [--case 'LABEL=FILE ARGS...']...",
  );
  process.exit(2);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'k8psh-startup-'));
const stub = path.join(scratch, 'k8psh-probe-stub');
fs.symlinkSync(binary, stub);
const env = { PATH: '/usr/bin:/bin', HOME: scratch, K8PSH_CONFIG: path.join(scratch, 'missing.conf') };

const cases = [
  ['node -e 0', process.execPath, ['-e', '0']],
  ['k8psh --version', binary, ['--version']],
  ['k8psh --help', binary, ['--help']],
  ['stub (no config: error exit)', stub, []],
  ...extra,
].map(([name, file, args]) => ({ name, file, args, env, cwd: scratch }));

/** Wall time, and CPU time (task-clock) when perf is there: NaN when it gives none. */
const runOnce = (entry) => ({ wall: wallTime(entry).wall, cpu: perf.file ? cpuTime(entry) : NaN });

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  const measured = await interleave(cases, runs, runOnce, { warmUp: 1 });
  console.log(
    `${runs} runs each, round-robin after one warm-up round; ms; load average ${os.loadavg()[0].toFixed(2)}`,
  );
  for (const [index, { name }] of cases.entries()) {
    const wall = measured[index].map((m) => m.wall);
    const cpu = measured[index].map((m) => m.cpu).filter(Number.isFinite);
    const sorted = [...wall].sort((a, b) => a - b);
    const cpuText = cpu.length ? `  cpu median ${median(cpu).toFixed(1).padStart(6)}` : '';
    console.log(
      `${name.padEnd(30)} wall median ${median(wall).toFixed(1).padStart(6)}` +
        `  min ${sorted[0].toFixed(1).padStart(6)}  max ${sorted[sorted.length - 1].toFixed(1).padStart(6)}${cpuText}`,
    );
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

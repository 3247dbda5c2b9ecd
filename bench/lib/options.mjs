/** The benchmark's options: flags over environment variables (see run.mjs), and the sizes they imply. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIGURES } from '../figures/index.mjs';
import { MiB } from './stats.mjs';

const BENCH = resolve(fileURLToPath(new URL('..', import.meta.url)));
const ROOT = resolve(BENCH, '..');
const NAMES = Object.keys(FIGURES);

function usage(message) {
  if (message) console.error(`bench: ${message}`);
  console.error(
    'usage: node bench/run.mjs [--bin FILE] [--reference FILE] [--out DIR] [--runs N] [--smoke] [--only ' +
      `${NAMES.join(',')}]`,
  );
  process.exit(2);
}

export function parseOptions(argv, env) {
  const options = {
    bin: resolve(env.K8PSH_BIN || join(ROOT, 'dist/k8psh')),
    reference: env.K8PSH_REFERENCE ? resolve(env.K8PSH_REFERENCE) : null,
    out: resolve(env.BENCH_OUT || BENCH),
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
  for (const name of options.only ?? []) if (!NAMES.includes(name)) usage(`unknown figure ${name}`);
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
        cUnits: 3,
        scaleUnits: 3,
        scaleFunctions: 4,
        buildRounds: 1,
        probes: 5,
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
        cUnits: 60,
        scaleUnits: 30,
        scaleFunctions: 32,
        buildRounds: 5,
        probes: 300,
        rounds: 3,
      };
  options.settleMs = options.smoke ? 200 : 1500;
  return options;
}

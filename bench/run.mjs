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
 * medians with their spread are reported (lib/interleave.mjs). The benchmark starts its own k8pshd on
 * a free port with a generated configuration in a scratch directory (lib/target.mjs), and stops it at
 * the end. One file a figure in figures/, in the order figures/index.mjs lists them. A figure this
 * machine cannot measure (the remote ones without network namespaces) is listed under `skipped`
 * with its reason.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { FIGURES } from './figures/index.mjs';
import { parseOptions } from './lib/options.mjs';
import { perf } from './lib/process.mjs';
import { MiB, round, rssMiB } from './lib/stats.mjs';
import { renderSvg } from './lib/svg.mjs';
import { table } from './lib/table.mjs';
import { startTarget } from './lib/target.mjs';

async function main() {
  const options = parseOptions(process.argv.slice(2), process.env);
  const scratch = mkdtempSync(join(tmpdir(), 'k8psh-bench-'));
  const targets = [];
  const stopAll = async () => {
    for (const target of targets) await target.stop();
    if (!options.keep) rmSync(scratch, { recursive: true, force: true });
  };
  // Interrupted: everything goes at once (a figure's blocking runs would hold up an orderly stop);
  // lib/floor.mjs kills its servers on exit.
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => {
      for (const target of targets) target.kill();
      if (!options.keep) rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
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
      perf: perf.file !== null,
    },
    figures: {},
    skipped: {},
  };
  try {
    const ours = await startTarget('k8psh', options.bin, scratch, options.settleMs);
    targets.push(ours);
    const reference = options.reference
      ? await startTarget('original', options.reference, scratch, options.settleMs)
      : null;
    if (reference) targets.push(reference);
    // adopt(): what a figure starts for the rest of the run (lib/remote.mjs) is stopped with the targets.
    const ctx = {
      ours,
      reference,
      options: { ...options, scratch },
      adopt: (target) => targets.push(target),
    };
    for (const [name, measure] of Object.entries(FIGURES)) {
      if (options.only && !options.only.includes(name)) continue;
      const started = Date.now();
      process.stderr.write(`bench: ${name}...`);
      const figure = await measure(ctx);
      // A figure this machine cannot measure (no network namespaces, ...) says why instead.
      if (figure.skipped) {
        results.skipped[name] = figure.skipped;
        process.stderr.write(` skipped: ${figure.skipped}\n`);
        continue;
      }
      results.figures[name] = { id: name, ...figure };
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

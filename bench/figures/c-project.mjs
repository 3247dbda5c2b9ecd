/**
 * A generated C project (bench/lib/c-project.mjs) built with `make -j2` through a `gcc` stub (the
 * server runs the real gcc in the same directory tree), beside the same build with the local gcc.
 * Every build starts clean; the objects and the program must come out byte-identical to the local
 * build's, and the program must print the same checksum.
 */
import { join } from 'node:path';
import { medianBars } from '../lib/bars.mjs';
import { differingOutputs, generateCProject, projectOutputs } from '../lib/c-project.mjs';
import { interleave } from '../lib/interleave.mjs';
import { run } from '../lib/process.mjs';
import { round, summary } from '../lib/stats.mjs';

const GOAL = 1.02;

export async function cProject({ ours, reference, options }) {
  const units = options.sizes.cUnits;
  const project = (target, name, cc) => {
    const dir = join(target.work, name);
    generateCProject(dir, units);
    return { dir, cc, env: target.env };
  };
  const cases = [
    { label: `make -j2, gcc stub`, role: 'ours', ...project(ours, 'cproject-stub', ours.stub('gcc')) },
    ...(reference
      ? [
          {
            label: 'make -j2, original gcc stub',
            role: 'reference',
            ...project(reference, 'cproject-stub', reference.stub('gcc')),
          },
        ]
      : []),
    { label: 'make -j2, local gcc', role: 'baseline', ...project(ours, 'cproject-local', 'gcc') },
  ];
  const build = async (c) => {
    const clean = await run('make', ['-s', 'clean'], { cwd: c.dir, env: c.env });
    if (clean.code !== 0) throw new Error(`${c.label}: make clean failed: ${clean.stderr.trim()}`);
    const start = process.hrtime.bigint();
    const made = await run('make', ['-s', '-j2', `CC=${c.cc}`], { cwd: c.dir, env: c.env });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (made.code !== 0) throw new Error(`${c.label}: make failed (${made.code}): ${made.stderr.trim()}`);
    return ms;
  };
  // A 2% goal needs more rounds than the other figures: 5, interleaved.
  const times = await interleave(cases, options.sizes.buildRounds, build);
  // The last build of each case is compared with the local one, file by file, and run.
  const local = cases.at(-1);
  const expected = projectOutputs(local.dir);
  const expectedRun = (await run(join(local.dir, 'prog'), [], { env: local.env })).stdout;
  const differing = {};
  for (const c of cases.slice(0, -1)) {
    const different = differingOutputs(expected, projectOutputs(c.dir));
    const printed = (await run(join(c.dir, 'prog'), [], { env: c.env })).stdout;
    if (printed !== expectedRun || !/^checksum \d+\n$/.test(printed)) different.push('program output');
    differing[c.label] = different;
  }
  const stats = cases.map((c, i) => ({ ...c, s: summary(times[i].map((ms) => ms / 1000)) }));
  const ratio = stats[0].s.median / stats.at(-1).s.median;
  const wrong = differing[cases[0].label];
  return {
    title: `C project (${units + 1} translation units), make -j2`,
    subtitle: `clean build through a gcc stub vs local gcc, median of ${options.sizes.buildRounds} interleaved`,
    unit: 's',
    better: 'lower',
    translationUnits: units + 1,
    bars: medianBars(stats, (c) => c.s),
    ratios: { 'vs local': round(ratio, 3) },
    differing,
    targets: [
      {
        text: 'identical objects, program and output',
        actual: wrong.length ? `differ: ${wrong.slice(0, 3).join(', ')}` : `${expected.size} files identical`,
        met: wrong.length === 0,
      },
      { text: `≤ ${GOAL} × local`, actual: `${ratio.toFixed(3)}×`, met: ratio <= GOAL },
    ],
  };
}

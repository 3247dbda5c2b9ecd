/**
 * Compiler probes as a configure script runs them: `gcc -E conftest.c` of autoconf's two-line
 * AC_PROG_CPP probe, n times in a row from sh, through a `gcc` stub beside the local gcc. Every
 * probe's output is appended to one file, which must equal the local run's byte for byte.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { quote, run } from '../lib/process.mjs';
import { round, summary } from '../lib/stats.mjs';

const GOAL = 1.1;
/** autoconf's AC_PROG_CPP probe: a preprocessor must get through this. */
const CONFTEST = '#include <limits.h>\n\t\t     Syntax error\n';

export async function compilerProbes({ ours, reference, options }) {
  const n = options.sizes.probes;
  const place = (target, name, cc) => {
    const dir = join(target.work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'conftest.c'), CONFTEST);
    return { dir, cc, env: target.env };
  };
  const cases = [
    { label: `${n} probes, gcc stub`, role: 'ours', ...place(ours, 'probes-stub', ours.stub('gcc')) },
    ...(reference
      ? [
          {
            label: `${n} probes, original stub`,
            role: 'reference',
            ...place(reference, 'probes-stub', reference.stub('gcc')),
          },
        ]
      : []),
    { label: `${n} probes, local gcc`, role: 'baseline', ...place(ours, 'probes-local', 'gcc') },
  ];
  const script = (cc) =>
    `: > out.i; i=0; while [ $i -lt ${n} ]; do ${quote(cc)} -E conftest.c >> out.i || exit 1; i=$((i+1)); done`;
  const probe = async (c) => {
    const start = process.hrtime.bigint();
    const result = await run('sh', ['-c', script(c.cc)], { cwd: c.dir, env: c.env });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.code !== 0) throw new Error(`${c.label}: failed (${result.code}): ${result.stderr.trim()}`);
    return ms;
  };
  const times = await interleave(cases, options.sizes.rounds, probe);
  const expected = readFileSync(join(cases.at(-1).dir, 'out.i'));
  const identical = Object.fromEntries(
    cases.slice(0, -1).map((c) => [c.label, readFileSync(join(c.dir, 'out.i')).equals(expected)]),
  );
  const stats = cases.map((c, i) => ({ ...c, s: summary(times[i].map((ms) => ms / 1000)) }));
  const ratio = stats[0].s.median / stats.at(-1).s.median;
  const same = identical[cases[0].label] && expected.length > 0;
  return {
    title: `${n} compiler probes (gcc -E), sequential from sh`,
    subtitle: `wall time of the loop, median of ${options.sizes.rounds} interleaved`,
    unit: 's',
    better: 'lower',
    probes: n,
    bars: medianBars(
      stats,
      (c) => c.s,
      (c) => ({ note: `${round((c.s.median / n) * 1000, 2)} ms a probe` }),
    ),
    ratios: { 'vs local': round(ratio, 3) },
    identical,
    targets: [
      { text: 'output identical to local', actual: same ? 'identical' : 'differs', met: same },
      { text: `≤ ${GOAL} × local`, actual: `${ratio.toFixed(3)}×`, met: ratio <= GOAL },
    ],
  };
}

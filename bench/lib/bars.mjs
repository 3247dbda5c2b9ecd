/** Bars of a figure, as results.json and the SVG show them: { label, value, role, ratio?, ... }. */
import { round } from './stats.mjs';

export function bar(label, value, role, extra = {}) {
  return { label, value: round(value), role, ...extra };
}

/** The spread of a summary (stats.mjs), as text and as the whisker range of the SVG. */
export function spreadOf(s) {
  return {
    spread: `min ${s.min}, p25 ${s.p25}, p75 ${s.p75}, max ${s.max}, n=${s.runs}`,
    spreadRange: [s.p25, s.p75],
  };
}

/**
 * A bar per case at the median of its summary `summaryOf(case)`, with its spread; every bar but
 * ours (cases[0]) carries the ratio of ours to it; `extra(case)` adds fields (a note).
 */
export function medianBars(cases, summaryOf, extra = () => ({})) {
  const ours = summaryOf(cases[0]).median;
  return cases.map((c) => {
    const s = summaryOf(c);
    return bar(c.label, s.median, c.role, {
      ...spreadOf(s),
      ...(c.role !== 'ours' ? { ratio: ours / s.median } : {}),
      ...extra(c),
    });
  });
}

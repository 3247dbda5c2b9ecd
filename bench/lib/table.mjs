/** The results as the plain-text table `npm run bench` prints: a row per bar and per target. */

export function table(results) {
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
  const skipped = Object.entries(results.skipped ?? {}).map(([name, why]) => `${name}: skipped (${why})`);
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
    .concat(skipped)
    .join('\n');
}

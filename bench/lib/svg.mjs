/**
 * The results as an SVG a person can look at: one panel per figure, our bar beside the baselines
 * measured in the same run, each baseline bar labelled with the ratio of ours to it, and the
 * targets (met or not) under the bars. No dependencies: plain SVG text.
 */
const PANEL_WIDTH = 660;
const BAR_HEIGHT = 22;
const BAR_GAP = 10;
const LABEL_WIDTH = 215;
const VALUE_ROOM = 235;
const COLUMNS = 2;
const COLOURS = { ours: '#2f6fb3', baseline: '#9aa3ad', reference: '#c7803a', info: '#7fb07f' };

function escape(text) {
  return String(text).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
}

function format(value, unit) {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

function panelHeight(figure) {
  return (
    52 +
    figure.bars.length * (BAR_HEIGHT + BAR_GAP) +
    (figure.targets?.length ?? 0) * 18 +
    (figure.note ? 18 : 0) +
    10
  );
}

function panel(figure, x, y) {
  const height = panelHeight(figure);
  const parts = [];
  parts.push(`<g transform="translate(${x},${y})">`);
  parts.push(
    `<rect x="0" y="0" width="${PANEL_WIDTH - 10}" height="${height - 10}" rx="6" fill="#fbfbfc" stroke="#d5d9de"/>`,
  );
  parts.push(`<text x="12" y="22" font-size="14" font-weight="bold">${escape(figure.title)}</text>`);
  parts.push(
    `<text x="12" y="38" font-size="11" fill="#555">${escape(
      `${figure.better === 'higher' ? 'higher is better' : 'lower is better'}${figure.subtitle ? ` · ${figure.subtitle}` : ''}`,
    )}</text>`,
  );
  const finite = figure.bars.map((bar) => bar.value).filter(Number.isFinite);
  const max = Math.max(...finite, 1e-9);
  const barRoom = PANEL_WIDTH - 10 - LABEL_WIDTH - VALUE_ROOM - 12;
  let rowY = 50;
  for (const bar of figure.bars) {
    const width = Number.isFinite(bar.value) ? Math.max(2, (bar.value / max) * barRoom) : 0;
    const colour = COLOURS[bar.role] ?? COLOURS.baseline;
    parts.push(
      `<text x="12" y="${rowY + 15}" font-size="12"${bar.role === 'ours' ? ' font-weight="bold"' : ''}>${escape(bar.label)}</text>`,
    );
    parts.push(
      `<rect x="${LABEL_WIDTH}" y="${rowY}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colour}"><title>${escape(
        `${bar.label}: ${format(bar.value, figure.unit)}${bar.spread ? ` (${bar.spread})` : ''}`,
      )}</title></rect>`,
    );
    let textX = LABEL_WIDTH + width + 6;
    if (
      bar.spread &&
      bar.spreadRange &&
      Number.isFinite(bar.spreadRange[0]) &&
      Number.isFinite(bar.spreadRange[1])
    ) {
      const [lo, hi] = bar.spreadRange.map((v) => LABEL_WIDTH + (Math.min(v, max) / max) * barRoom);
      const mid = rowY + BAR_HEIGHT / 2;
      textX = Math.max(textX, hi + 6);
      parts.push(
        `<path d="M${lo.toFixed(1)},${mid} H${hi.toFixed(1)} M${lo.toFixed(1)},${mid - 5} V${mid + 5} M${hi.toFixed(1)},${mid - 5} V${mid + 5}" stroke="#333" stroke-width="1"/>`,
      );
    }
    let text = format(bar.value, figure.unit);
    if (bar.ratio !== undefined && Number.isFinite(bar.ratio)) text += `  ours = ${bar.ratio.toFixed(2)}×`;
    if (bar.note) text += `  ${bar.note}`;
    const inside = width > 250;
    parts.push(
      `<text x="${inside ? LABEL_WIDTH + 6 : textX.toFixed(1)}" y="${rowY + 15}" font-size="11"${inside ? ' fill="#fff"' : ''}>${escape(text)}</text>`,
    );
    rowY += BAR_HEIGHT + BAR_GAP;
  }
  for (const target of figure.targets ?? []) {
    const mark = target.met === true ? '✔' : target.met === false ? '✘' : '·';
    const colour = target.met === true ? '#1d7a36' : target.met === false ? '#b3261e' : '#555';
    parts.push(
      `<text x="12" y="${rowY + 12}" font-size="11.5" fill="${colour}">${escape(`${mark} target ${target.text}: ${target.actual}`)}</text>`,
    );
    rowY += 18;
  }
  if (figure.note)
    parts.push(`<text x="12" y="${rowY + 12}" font-size="10.5" fill="#666">${escape(figure.note)}</text>`);
  parts.push('</g>');
  return { svg: parts.join('\n'), height };
}

export function renderSvg(results) {
  const figures = Object.values(results.figures);
  const panels = [];
  const columnHeights = new Array(COLUMNS).fill(70);
  for (const figure of figures) {
    const column = columnHeights.indexOf(Math.min(...columnHeights));
    const { svg, height } = panel(figure, 10 + column * PANEL_WIDTH, columnHeights[column]);
    panels.push(svg);
    columnHeights[column] += height;
  }
  const width = COLUMNS * PANEL_WIDTH + 10;
  const height = Math.max(...columnHeights) + 10;
  const meta = results.meta;
  const subtitle = `${meta.date} · ${meta.cpus} CPUs, load ${meta.loadAverage.join(' / ')} · node ${meta.node} · binary ${meta.binary}${
    meta.smoke ? ' · SMOKE (tiny sizes, not a measurement)' : ''
  }`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="14" y="28" font-size="18" font-weight="bold">k8psh benchmarks (npm run bench)</text>`,
    `<text x="14" y="50" font-size="11.5" fill="#555">${escape(subtitle)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

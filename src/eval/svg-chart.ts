/**
 * A small, dependency-free SVG line chart for the report's learning curves.
 * Deterministic output (fixed number formatting), so reports of equal runs are byte-identical.
 */

/** One line of the chart. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  widthPx?: number;
  heightPx?: number;
  /** Fix the y range (e.g. [0, 1] for rates); default: the data's range. */
  yRange?: [number, number];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const MARGIN = { left: 56, right: 16, top: 28, bottom: 40 };

/** Renders `series` as an SVG document string. Empty series are listed in the legend only. */
export function lineChartSvg(series: readonly Series[], options: ChartOptions): string {
  const width = options.widthPx ?? 560;
  const height = options.heightPx ?? 300;
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = extent(all.map((p) => p[0]), [0, 1]);
  const [y0, y1] = options.yRange ?? extent(all.map((p) => p[1]), [0, 1]);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number): number => MARGIN.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of ticks(y0, y1)) {
    const y = fmt(sy(tick));
    parts.push(`<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(tick)}</text>`);
  }
  for (const tick of ticks(x0, x1)) {
    const x = fmt(sx(tick));
    parts.push(`<text x="${x}" y="${height - MARGIN.bottom + 14}" text-anchor="middle">${fmtTick(tick)}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  const pixels = series.map((s) => s.points.map(([x, y]): [number, number] => [sx(x), sy(y)]));
  series.forEach((s, index) => {
    if (s.points.length === 0) return;
    const d = pixels[index]!.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${fmt(x)},${fmt(y)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${PALETTE[index % PALETTE.length]!}" stroke-width="1.6"/>`);
  });
  const legend = legendBox(series, pixels, { x: MARGIN.left, y: MARGIN.top, w: plotW, h: plotH });
  parts.push(`<rect x="${fmt(legend.x)}" y="${fmt(legend.y)}" width="${fmt(legend.w)}" height="${fmt(legend.h)}" fill="white" fill-opacity="0.85"/>`);
  series.forEach((s, index) => {
    const colour = PALETTE[index % PALETTE.length]!;
    const ly = fmt(legend.y + LEGEND_PAD + LEGEND_ROW_PX / 2 + index * LEGEND_ROW_PX);
    parts.push(`<line x1="${fmt(legend.x + 4)}" x2="${fmt(legend.x + 20)}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${fmt(legend.x + 24)}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const LEGEND_ROW_PX = 14;
const LEGEND_PAD = 4;
/** Width of one character at font-size 11, generous, for sizing the legend box. */
const CHAR_PX = 6.5;

/**
 * The legend's box: the corner of the plot (top-left first, then top-right, bottom-right,
 * bottom-left) that hides the fewest points of the lines, sampled along each segment.
 */
function legendBox(series: readonly Series[], pixels: ReadonlyArray<ReadonlyArray<[number, number]>>, plot: Box): Box {
  const w = 28 + CHAR_PX * Math.max(0, ...series.map((s) => s.name.length));
  const h = 2 * LEGEND_PAD + LEGEND_ROW_PX * series.length;
  const inset = 4;
  const left = plot.x + inset;
  const right = plot.x + plot.w - inset - w;
  const top = plot.y + inset;
  const bottom = plot.y + plot.h - inset - h;
  const corners: Box[] = [[left, top], [right, top], [right, bottom], [left, bottom]].map(([x, y]) => ({ x: x!, y: y!, w, h }));
  const samples = pixels.flatMap((line) =>
    line.flatMap(([x, y], i) => {
      if (i === 0) return [[x, y] as [number, number]];
      const [px, py] = line[i - 1]!;
      return Array.from({ length: 8 }, (_, k): [number, number] => [px + ((x - px) * (k + 1)) / 8, py + ((y - py) * (k + 1)) / 8]);
    }),
  );
  const hidden = corners.map((box) => samples.filter(([x, y]) => x >= box.x && x <= box.x + box.w && y >= box.y && y <= box.y + box.h).length);
  return corners[hidden.indexOf(Math.min(...hidden))]!;
}

function extent(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return fallback;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

/** About five round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const step = niceStep((hi - lo) / 5);
  const out: number[] = [];
  // Ticks are whole multiples of the step, so accumulated float error never prints as 3.5e-18.
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k += 1) out.push(Number((k * step).toPrecision(12)));
  return out;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10) * power;
}

function fmt(value: number): string {
  return value.toFixed(1);
}

function fmtTick(value: number): string {
  return Math.abs(value) >= 1000 || (value !== 0 && Math.abs(value) < 0.01) ? value.toExponential(1) : String(value);
}

/** Escapes text for XML/HTML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The comparison's figure as a dependency-free SVG: all-task macro success per model/input (groups)
 * and variant (bars), the bar at the mean over seeds with a ±1 sd whisker. The y axis is fixed to
 * 0–100 % so figures of different comparisons read alike.
 */
import { escapeXml } from '../eval/svg-chart.js';
import type { ComparisonRow } from './table.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const MARGIN = { left: 56, right: 16, top: 32, bottom: 64 };

/** Renders the macro rows of a comparison (one bar per variant within each model/input). */
export function macroBarChartSvg(rows: readonly ComparisonRow[], widthPx = 900, heightPx = 360): string {
  const macro = rows.filter((row) => row.task === 'macro');
  const groups = [...new Set(macro.map((row) => row.model_input))];
  const variants = [...new Set(macro.map((row) => row.variant))];
  const plotW = widthPx - MARGIN.left - MARGIN.right;
  const plotH = heightPx - MARGIN.top - MARGIN.bottom;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, variants.length));
  const sy = (rate: number): number => MARGIN.top + plotH - Math.min(1, Math.max(0, rate)) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="11">`,
    `<rect width="${widthPx}" height="${heightPx}" fill="white"/>`,
    `<text x="${widthPx / 2}" y="18" text-anchor="middle" font-size="13">All-task macro success: mean over seeds, whisker ±1 sd</text>`,
  ];
  for (const tick of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(tick).toFixed(1)}" y2="${sy(tick).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(tick).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${tick * 100}</text>`);
  }
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">macro success (% of test puzzles)</text>`);
  groups.forEach((group, g) => {
    const left = MARGIN.left + g * groupW + (groupW - barW * variants.length) / 2;
    variants.forEach((variant, v) => {
      const row = macro.find((r) => r.model_input === group && r.variant === variant);
      if (row === undefined) return;
      const x = left + v * barW;
      const colour = PALETTE[v % PALETTE.length]!;
      parts.push(`<rect x="${x.toFixed(1)}" y="${sy(row.mean).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(sy(0) - sy(row.mean)).toFixed(1)}" fill="${colour}" fill-opacity="0.7"/>`);
      const mid = (x + (barW - 2) / 2).toFixed(1);
      parts.push(`<line x1="${mid}" x2="${mid}" y1="${sy(row.mean - row.sd).toFixed(1)}" y2="${sy(row.mean + row.sd).toFixed(1)}" stroke="#333"/>`);
    });
    parts.push(`<text x="${(MARGIN.left + (g + 0.5) * groupW).toFixed(1)}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${escapeXml(group)}</text>`);
  });
  variants.forEach((variant, v) => {
    const y = heightPx - 30 + Math.floor(v / 3) * 14;
    const x = MARGIN.left + (v % 3) * (plotW / 3);
    parts.push(`<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${PALETTE[v % PALETTE.length]!}" fill-opacity="0.7"/>`);
    parts.push(`<text x="${x + 14}" y="${y}" >${escapeXml(variant.length > 48 ? `${variant.slice(0, 47)}…` : variant)}</text>`);
  });
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`, '</svg>');
  return parts.join('\n');
}

/**
 * The paper's diagnostic figure as a dependency-free SVG: one bubble per model at (perception
 * accuracy, planning-from-symbols accuracy), its area proportional to end-to-end (image) success.
 * A model far right but low reads the image and cannot plan; high but left plans and cannot read.
 * Axes are fixed to 0–100 %, so figures of different runs compare at a glance.
 */
import { escapeXml } from './svg-chart.js';

/** One model of the figure (rates in [0, 1]). */
export interface Bubble {
  label: string;
  perception: number;
  planning: number;
  endToEnd: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const MARGIN = { left: 64, right: 24, top: 32, bottom: 48 };
const MAX_RADIUS_PX = 28;

/** Renders the bubbles as an SVG document string. */
export function bubbleChartSvg(bubbles: readonly Bubble[], title: string, widthPx = 560, heightPx = 380): string {
  const plotW = widthPx - MARGIN.left - MARGIN.right;
  const plotH = heightPx - MARGIN.top - MARGIN.bottom;
  const sx = (rate: number): number => MARGIN.left + rate * plotW;
  const sy = (rate: number): number => MARGIN.top + plotH - rate * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="11">`,
    `<rect width="${widthPx}" height="${heightPx}" fill="white"/>`,
    `<text x="${widthPx / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
  ];
  for (const tick of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(tick).toFixed(1)}" y2="${sy(tick).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<line y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" x1="${sx(tick).toFixed(1)}" x2="${sx(tick).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(tick).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${tick * 100}</text>`);
    parts.push(`<text x="${sx(tick).toFixed(1)}" y="${MARGIN.top + plotH + 14}" text-anchor="middle">${tick * 100}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${heightPx - 10}" text-anchor="middle">perception: every field read right (% of test puzzles)</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">planning from symbols: text-input success (%)</text>`,
  );
  const placed: Array<[number, number]> = [];
  bubbles.forEach((bubble, index) => {
    const colour = PALETTE[index % PALETTE.length]!;
    const radius = Math.max(3, Math.sqrt(Math.max(0, bubble.endToEnd)) * MAX_RADIUS_PX);
    const x = sx(clamp(bubble.perception));
    let y = sy(clamp(bubble.planning));
    // Models at the same spot: stack their labels upwards instead of printing them over each other.
    while (placed.some(([px, py]) => Math.abs(px - x) < 120 && Math.abs(py - y) < 13)) y -= 13;
    placed.push([x, y]);
    parts.push(`<circle cx="${x.toFixed(1)}" cy="${sy(clamp(bubble.planning)).toFixed(1)}" r="${radius.toFixed(1)}" fill="${colour}" fill-opacity="0.35" stroke="${colour}"/>`);
    const anchor = x > MARGIN.left + plotW * 0.7 ? 'end' : 'start';
    const dx = anchor === 'end' ? -(radius + 3) : radius + 3;
    const text = `${bubble.label} (end-to-end ${(bubble.endToEnd * 100).toFixed(1)}%)`;
    parts.push(`<text x="${(x + dx).toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" dominant-baseline="middle" fill="${colour}">${escapeXml(text)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function clamp(rate: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(rate) ? rate : 0));
}

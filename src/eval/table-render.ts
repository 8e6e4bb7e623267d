/**
 * One table, two renderings: a Markdown pipe table and an HTML table in a horizontally scrolling
 * wrapper. Shared by the run report and the comparison pages, so both escape cells the same way.
 */
import { escapeXml } from './svg-chart.js';

/** A table of already formatted cells. */
export type Table = { header: string[]; rows: string[][] };

/** A Markdown pipe table (pipes inside cells escaped). */
export function markdownTable(table: Table): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(table.header), line(table.header.map(() => '---')), ...table.rows.map(line)].join('\n');
}

/** An HTML table (cells escaped) inside a `.wrap` div that scrolls instead of overflowing. */
export function htmlTable(table: Table): string {
  const head = `<tr>${table.header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>`;
  const rows = table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeXml(cell)}</td>`).join('')}</tr>`);
  return `<div class="wrap"><table>${head}${rows.join('')}</table></div>`;
}

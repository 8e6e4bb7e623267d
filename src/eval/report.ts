/**
 * The run report, as Markdown (`report.md`, images beside it in `report/`) and as one
 * self-contained HTML page (`report.html`: SVG inline, PNGs as data URLs).
 *
 * Tables follow the paper's layout: rows are models with their input (image or symbolic text),
 * columns are the tasks plus the all-task macro average. Cells give the level-balanced success in
 * percent; the pooled 95 % Wilson interval and n are in the detail tables. The out-of-distribution
 * sets follow in tables of their own (`ood-report.ts`).
 */
import { ENV_NAMES } from '../envs/types.js';
import { oodTables } from './ood-report.js';
import type { ResultRow, ResultsFile } from './results.js';
import { escapeXml } from './svg-chart.js';
import { htmlTable, markdownTable, type Table } from './table-render.js';

/** A figure of the report. */
export interface ReportFigure {
  caption: string;
  /** File name under `report/`. */
  file: string;
  content: { kind: 'svg'; svg: string } | { kind: 'png'; png: Uint8Array };
}

/** Everything the report shows. */
export interface ReportInput {
  title: string;
  facts: Array<[string, string]>;
  results: ResultsFile;
  /** Findings in plain sentences (the paper's ordering, the gap closed, …). */
  findings: string[];
  curves: ReportFigure[];
  samples: ReportFigure[];
  /** Further sections (diagnostics, hyperparameters), after the result tables. */
  sections?: ReportSection[];
}

/** A table: header cells and rows of cells. */
export type { Table };

/** A titled section: an optional sentence, table and figures. */
export interface ReportSection {
  heading: string;
  note?: string;
  table?: Table;
  figures?: ReportFigure[];
}

/** The report as Markdown; figures are referenced as `report/<file>`. */
export function reportMarkdown(input: ReportInput): string {
  const parts = [`# ${input.title}`, '', ...input.facts.map(([key, value]) => `- **${key}**: ${value}`), ''];
  parts.push('## Findings', '', ...input.findings.map((finding) => `- ${finding}`), '');
  for (const [heading, table] of tables(input.results)) parts.push(`## ${heading}`, '', markdownTable(table), '');
  for (const section of input.sections ?? []) {
    parts.push(`## ${section.heading}`, '');
    if (section.note) parts.push(section.note, '');
    if (section.table) parts.push(markdownTable(section.table), '');
    for (const figure of section.figures ?? []) parts.push(`![${figure.caption}](report/${figure.file})`, '');
  }
  parts.push('## Learning curves', '', ...input.curves.map((figure) => `![${figure.caption}](report/${figure.file})`), '');
  parts.push('## Sample predictions', '', ...input.samples.map((figure) => `![${figure.caption}](report/${figure.file})  \n${figure.caption}\n`));
  return `${parts.join('\n')}\n`;
}

/** The report as one self-contained HTML page. */
export function reportHtml(input: ReportInput): string {
  const body: string[] = [`<h1>${escapeXml(input.title)}</h1>`, '<ul>'];
  for (const [key, value] of input.facts) body.push(`<li><b>${escapeXml(key)}</b>: ${escapeXml(value)}</li>`);
  body.push('</ul>', '<h2>Findings</h2>', '<ul>', ...input.findings.map((f) => `<li>${escapeXml(f)}</li>`), '</ul>');
  for (const [heading, table] of tables(input.results)) body.push(`<h2>${escapeXml(heading)}</h2>`, htmlTable(table));
  for (const section of input.sections ?? []) {
    body.push(`<h2>${escapeXml(section.heading)}</h2>`);
    if (section.note) body.push(`<p>${escapeXml(section.note)}</p>`);
    if (section.table) body.push(htmlTable(section.table));
    if (section.figures) body.push('<div class="figures">', ...section.figures.map(figureHtml), '</div>');
  }
  body.push('<h2>Learning curves</h2>', '<div class="figures">', ...input.curves.map(figureHtml), '</div>');
  body.push('<h2>Sample predictions</h2>', '<div class="figures">', ...input.samples.map(figureHtml), '</div>');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeXml(input.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head><body>',
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}

const STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}',
  'table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}',
  'th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}',
  'li{overflow-wrap:anywhere}.figures{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;max-width:100%}figure svg,figure img{max-width:100%;height:auto}',
  'figcaption{font-size:12px;max-width:560px;overflow-wrap:anywhere}.wrap{overflow-x:auto;max-width:100%}td{overflow-wrap:break-word}',
].join('');

function figureHtml(figure: ReportFigure): string {
  const inner =
    figure.content.kind === 'svg'
      ? figure.content.svg
      : `<img alt="${escapeXml(figure.caption)}" src="data:image/png;base64,${Buffer.from(figure.content.png).toString('base64')}">`;
  return `<figure>${inner}<figcaption>${escapeXml(figure.caption)}</figcaption></figure>`;
}

/** The report's tables, in order. */
function tables(results: ResultsFile): Array<[string, Table]> {
  const out: Array<[string, Table]> = [
    ['Success (%), level-balanced per task; macro = mean over tasks', mainTable(results, 'success', results.macro)],
    ['Optimal success (%)', mainTable(results, 'optimal_success', results.macro_optimal)],
    ['Detail: pooled success with 95 % Wilson interval', detailTable(results)],
  ];
  if (Object.keys(results.perception).length > 0) out.push(['Perception: all fields read right (%), held-out test split', perceptionTable(results)]);
  if (Object.keys(results.modality_gap).length > 0) out.push(['Modality gap: text − image success (points)', gapTable(results)]);
  out.push(...oodTables(results));
  return out;
}

function tasksOf(results: ResultsFile): string[] {
  return ENV_NAMES.filter((task) => results.rows.some((row) => row.task === task));
}

function mainTable(results: ResultsFile, metric: 'success' | 'optimal_success', macro: Record<string, number>): Table {
  const tasks = tasksOf(results);
  const rows = Object.keys(macro).map((key) => {
    const [model, input] = key.split('/') as [string, string];
    const cells = tasks.map((task) => {
      const row = results.rows.find((r) => r.model === model && r.input === input && r.task === task);
      return row ? pct(row[metric]) : '–';
    });
    return [`${model} (${input})`, ...cells, pct(macro[key]!)];
  });
  return { header: ['model (input)', ...tasks, 'macro'], rows };
}

function detailTable(results: ResultsFile): Table {
  const rows = results.rows.map((row: ResultRow) => [
    `${row.model} (${row.input})`,
    row.task,
    String(row.n),
    `${pct(row.success)} [${pct(row.success_ci[0])}, ${pct(row.success_ci[1])}]`,
    `${pct(row.optimal_success)} [${pct(row.optimal_success_ci[0])}, ${pct(row.optimal_success_ci[1])}]`,
    pct(row.parse_rate),
    row.levels.map((level) => `L${level.level}: ${pct(level.success)}`).join(', '),
  ]);
  return { header: ['model (input)', 'task', 'n', 'success', 'optimal', 'parsed', 'per level'], rows };
}

function perceptionTable(results: ResultsFile): Table {
  const tasks = tasksOf(results);
  const rows = Object.entries(results.perception).map(([model, perTask]) => [
    model,
    ...tasks.map((task) => {
      const entry = perTask.find((p) => p.task === task);
      if (!entry) return '–';
      const weakest = Object.entries(entry.fields).sort((a, b) => a[1] - b[1])[0];
      return `${pct(entry.all)}${weakest ? ` (weakest ${weakest[0]} ${pct(weakest[1])})` : ''}`;
    }),
  ]);
  return { header: ['model', ...tasks], rows };
}

function gapTable(results: ResultsFile): Table {
  const tasks = tasksOf(results);
  const rows = Object.entries(results.modality_gap).map(([model, gap]) => [
    model,
    ...[...tasks, 'macro'].map((key) => (gap[key] === undefined ? '–' : signedPoints(gap[key]!))),
  ]);
  return { header: ['model', ...tasks, 'macro'], rows };
}

function pct(value: number): string {
  return Number.isFinite(value) ? (value * 100).toFixed(1) : 'n/a';
}

function signedPoints(value: number): string {
  const points = value * 100;
  return `${points >= 0 ? '+' : ''}${points.toFixed(1)}`;
}


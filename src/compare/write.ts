/**
 * Writing a comparison: `compare.json` (every number), `compare.md` and `compare.html` (the
 * paper's ablation layout: for each model/input, one row per variant with the grid keys as
 * columns, then one cell per task and the macro: mean ± sd over seeds and the paired p-value
 * against the reference; a detail table with intervals, seeds and test counts follows).
 * `compare-macro.svg` (beside compare.md; inline in compare.html) plots the macro rows. Every file
 * is written atomically.
 */
import { join, resolve } from 'node:path';

import { escapeXml } from '../eval/svg-chart.js';
import { htmlTable, markdownTable, type Table } from '../eval/table-render.js';
import { writeFileAtomic, writeJsonAtomic } from '../fs-atomic.js';
import { macroBarChartSvg } from './bar-chart.js';
import { formatP, meanSd, pct, signed } from './format.js';
import { findRuns } from './read-runs.js';
import { type Comparison, compareRuns } from './table.js';

/** The files a comparison wrote. */
export interface ComparisonFiles {
  json: string;
  markdown: string;
  html: string;
  comparison: Comparison;
}

/** Compares the runs under `paths` and writes the three files into `out`. */
export function writeComparison(paths: readonly string[], options: { out: string; reference: string | null }): ComparisonFiles {
  const found = findRuns(paths);
  const comparison = compareRuns(found.runs, found.gridKeys, options.reference, found.skipped);
  const out = resolve(options.out);
  const files = { json: join(out, 'compare.json'), markdown: join(out, 'compare.md'), html: join(out, 'compare.html') };
  writeJsonAtomic(files.json, comparison);
  writeFileAtomic(join(out, 'compare-macro.svg'), macroBarChartSvg(comparison.rows));
  writeFileAtomic(files.markdown, comparisonMarkdown(comparison));
  writeFileAtomic(files.html, comparisonHtml(comparison));
  return { ...files, comparison };
}

/** One ablation table per model/input: variants as rows, tasks + macro as columns. */
function ablationTables(comparison: Comparison): Array<[string, Table]> {
  const tasks = [...new Set(comparison.rows.map((row) => row.task))];
  const modelInputs = [...new Set(comparison.rows.map((row) => row.model_input))];
  return modelInputs.map((modelInput) => {
    const ofModel = comparison.rows.filter((row) => row.model_input === modelInput);
    const variants = [...new Set(ofModel.map((row) => row.variant))];
    const rows = variants.map((variant) => {
      const first = ofModel.find((row) => row.variant === variant)!;
      const cells = tasks.map((task) => {
        const row = ofModel.find((r) => r.variant === variant && r.task === task);
        return row === undefined ? '–' : `${meanSd(row)}${row.test ? ` (p ${formatP(row.test.mcnemar_p)})` : row.note === 'reference' ? ' (ref)' : ''}`;
      });
      return [...comparison.grid_keys.map((key) => first.values[key] ?? '–'), String(first.seeds.length), ...cells];
    });
    return [modelInput, { header: [...comparison.grid_keys, 'seeds', ...tasks], rows }];
  });
}

function detailTable(comparison: Comparison): Table {
  const rows = comparison.rows.map((row) => [
    row.model_input,
    row.variant,
    row.task,
    row.seeds.join(','),
    meanSd(row),
    row.ci95 === null ? '– (one seed)' : `[${pct(row.ci95[0])}, ${pct(row.ci95[1])}]`,
    row.delta === null ? '–' : signed(row.delta),
    row.test === null ? (row.note ?? '–') : `${formatP(row.test.mcnemar_p)} (b ${row.test.mcnemar_b}, c ${row.test.mcnemar_c})`,
    row.test === null ? '–' : formatP(row.test.bootstrap_p),
    row.test === null ? '–' : String(row.test.n_pairs),
    row.test === null || row.test.mdd === null ? '–' : pct(row.test.mdd),
  ]);
  return { header: ['model/input', 'variant', 'task', 'seeds', 'mean ± sd (%)', '95 % CI (%)', 'Δ vs ref (points)', 'McNemar p', 'bootstrap p', 'pairs', 'MDD (points)'], rows };
}

/** One sentence: the smallest macro difference the comparison detects. */
export function powerSentence(comparison: Comparison): string {
  const { power } = comparison;
  const sizes = [...new Set(power.cells.map((cell) => cell.n))];
  const cellText = `${power.cells.length} task/level cells of ${sizes.join('/')} test puzzles`;
  return (
    `at α ${power.alpha} and ${power.power * 100} % power, with ${cellText} and ${power.seeds} seed${power.seeds === 1 ? '' : 's'}, ` +
    `a macro difference of ${pct(power.mdd_worst_case)} points is detectable for any two models (worst case: independent, at 50 %); ` +
    `paired rows on the same puzzles detect less (their MDD column). ${power.method}`
  );
}

/** compare.md. */
export function comparisonMarkdown(comparison: Comparison): string {
  const parts = ['# Comparison', '', `- **reference**: ${comparison.reference}`, `- **grid keys**: ${comparison.grid_keys.join(', ') || '(none: one variant)'}`];
  parts.push(`- **runs**: ${comparison.runs.length}${comparison.skipped.length > 0 ? `; unfinished, left out: ${comparison.skipped.join(', ')}` : ''}`, `- **method**: ${comparison.method}`, `- **power**: ${powerSentence(comparison)}`, '');
  for (const [modelInput, table] of ablationTables(comparison)) {
    parts.push(`## ${modelInput}: success (%), mean ± sd over seeds (McNemar p vs the reference)`, '', markdownTable(table), '');
  }
  parts.push('## Macro success per model and variant', '', '![All-task macro success, mean over seeds ±1 sd](compare-macro.svg)', '');
  parts.push('## Detail', '', markdownTable(detailTable(comparison)), '');
  return `${parts.join('\n')}\n`;
}

/** compare.html: the same tables in one self-contained page. */
export function comparisonHtml(comparison: Comparison): string {
  const body = ['<h1>Comparison</h1>', '<ul>'];
  body.push(`<li><b>reference</b>: ${escapeXml(comparison.reference)}</li>`, `<li><b>grid keys</b>: ${escapeXml(comparison.grid_keys.join(', ') || '(none)')}</li>`);
  body.push(`<li><b>runs</b>: ${comparison.runs.length}${comparison.skipped.length > 0 ? `; unfinished, left out: ${escapeXml(comparison.skipped.join(', '))}` : ''}</li>`);
  body.push(`<li><b>method</b>: ${escapeXml(comparison.method)}</li>`, `<li><b>power</b>: ${escapeXml(powerSentence(comparison))}</li>`, '</ul>');
  for (const [modelInput, table] of ablationTables(comparison)) {
    body.push(`<h2>${escapeXml(modelInput)}: success (%), mean ± sd over seeds (McNemar p vs the reference)</h2>`, htmlTable(table));
  }
  body.push('<h2>Macro success per model and variant</h2>', `<figure>${macroBarChartSvg(comparison.rows)}</figure>`);
  body.push('<h2>Detail</h2>', htmlTable(detailTable(comparison)));
  const style = 'body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;overflow-wrap:break-word}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.wrap{overflow-x:auto;max-width:100%}figure{margin:0}figure svg{max-width:100%;height:auto}li{overflow-wrap:anywhere}';
  return ['<!doctype html>', '<html lang="en"><head><meta charset="utf-8"><title>mgsd comparison</title>', `<style>${style}</style>`, '</head><body>', ...body, '</body></html>', ''].join('\n');
}


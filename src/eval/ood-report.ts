/**
 * The out-of-distribution part of the run report: the published test sets of
 * `eval.outOfDistribution`, in tables of their own so their numbers are never read as (or mixed
 * into) the in-distribution macro. Cells are level-balanced success per set; the detail table has
 * n and the pooled 95 % Wilson interval, as the in-distribution detail table does.
 */
import type { OodResults, ResultsFile } from './results.js';
import type { Table } from './table-render.js';

/** The report's out-of-distribution tables, as (heading, table); none when no set was evaluated. */
export function oodTables(results: ResultsFile): Array<[string, Table]> {
  const ood = results.out_of_distribution;
  if (ood.rows.length === 0) return [];
  return [
    [`Out-of-distribution: published test sets, success (%), level-balanced per set; macro = mean over the ${ood.sets.length} set(s) (not part of the in-distribution macro)`, oodMainTable(ood)],
    ['Out-of-distribution detail: pooled success with 95 % Wilson interval', oodDetailTable(ood)],
  ];
}

/** One sentence per evaluated model/input with its out-of-distribution macro (for the findings). */
export function oodFindings(results: ResultsFile): string[] {
  const ood = results.out_of_distribution;
  const entries = Object.entries(ood.macro);
  if (entries.length === 0) return [];
  const sets = ood.sets.map((set) => `${set.name} L${set.levels.join(',')}`).join('; ');
  return [`Out of distribution (published sets: ${sets}), macro over sets: ${entries.map(([key, value]) => `${key} ${pct(value)}%`).join(', ')}.`];
}

/** The one-line terminal summary of the out-of-distribution macros, or null when there are none. */
export function oodSummaryLine(results: Pick<ResultsFile, 'out_of_distribution'>): string | null {
  const entries = Object.entries(results.out_of_distribution.macro);
  if (entries.length === 0) return null;
  const names = results.out_of_distribution.sets.map((set) => set.name).join(', ');
  return `out-of-distribution macro success (${names}): ${entries.map(([key, value]) => `${key} ${pct(value)}%`).join(', ')}`;
}

function oodMainTable(ood: OodResults): Table {
  const rows = Object.keys(ood.macro).map((key) => {
    const [model, input] = key.split('/') as [string, string];
    const cells = ood.sets.map((set) => {
      const row = ood.rows.find((r) => r.model === model && r.input === input && r.set === set.name);
      return row ? pct(row.success) : '–';
    });
    return [`${model} (${input})`, ...cells, pct(ood.macro[key]!)];
  });
  return { header: ['model (input)', ...ood.sets.map((set) => `${set.name} (${set.levels.map((level) => `L${level}`).join(', ')})`), 'macro'], rows };
}

function oodDetailTable(ood: OodResults): Table {
  const rows = ood.rows.map((row) => [
    `${row.model} (${row.input})`,
    row.set,
    row.task,
    String(row.n),
    `${pct(row.success)} [${pct(row.success_ci[0])}, ${pct(row.success_ci[1])}]`,
    `${pct(row.optimal_success)} [${pct(row.optimal_success_ci[0])}, ${pct(row.optimal_success_ci[1])}]`,
    pct(row.parse_rate),
    row.levels.map((level) => `L${level.level}: ${pct(level.success)} (n ${level.n})`).join(', '),
  ]);
  return { header: ['model (input)', 'set', 'task', 'n', 'success', 'optimal', 'parsed', 'per level'], rows };
}

function pct(value: number): string {
  return Number.isFinite(value) ? (value * 100).toFixed(1) : 'n/a';
}

/**
 * A `MetricsSummary` as a plain-text table for the terminal: one row per task and level, then the
 * task's level-balanced and pooled means, the failure kinds per level, and the macro average.
 * Rates are printed as percentages with their 95 % Wilson interval.
 */
import type { LevelMetrics, MeanRates, MetricsSummary, Rate, TaskMetrics } from './metrics.js';

const HEADER = ['task', 'level', 'n', 'success', 'optimal success', 'parsed'];
const WIDTHS = [14, 16, 6, 22, 22, 22];

/** The summary as text (no trailing newline). */
export function formatSummaryTable(summary: MetricsSummary): string {
  const lines = [row(HEADER)];
  for (const task of summary.tasks) lines.push(...taskRows(task));
  lines.push('', ...failureLines(summary));
  const macro = summary.macro;
  lines.push(
    '',
    `macro average over ${summary.tasks.length} task(s) (mean of each task's level-balanced mean), n ${summary.n}: ` +
      `success ${percent(macro.success)}  optimal success ${percent(macro.optimalSuccess)}  parsed ${percent(macro.parsed)}`,
  );
  return lines.join('\n');
}

function taskRows(task: TaskMetrics): string[] {
  const rows = task.levels.map((level: LevelMetrics) =>
    row([task.task, String(level.level), String(level.n), withInterval(level.success), withInterval(level.optimalSuccess), withInterval(level.parsed)]),
  );
  rows.push(row([task.task, 'level-balanced', String(task.n), ...means(task.levelBalanced)]));
  const pooled = task.sampleMean;
  rows.push(row([task.task, 'sample mean', String(task.n), withInterval(pooled.success), withInterval(pooled.optimalSuccess), withInterval(pooled.parsed)]));
  return rows;
}

function failureLines(summary: MetricsSummary): string[] {
  const lines = ['failures (share of responses, first failure only):'];
  for (const task of summary.tasks) {
    for (const level of task.levels) {
      const kinds = Object.entries(level.failures).map(([kind, rate]) => `${kind} ${percent((rate as Rate).rate)}`);
      lines.push(`  ${task.task} L${level.level}: ${kinds.length === 0 ? 'none' : kinds.join(', ')}`);
    }
  }
  return lines;
}

function means(rates: MeanRates): string[] {
  return [percent(rates.success), percent(rates.optimalSuccess), percent(rates.parsed)];
}

function withInterval(rate: Rate): string {
  return `${percent(rate.rate)} [${(rate.low * 100).toFixed(1)}, ${(rate.high * 100).toFixed(1)}]`;
}

function percent(value: number): string {
  return Number.isNaN(value) ? 'n/a' : `${(value * 100).toFixed(1)}%`;
}

function row(cells: readonly string[]): string {
  return cells.map((cell, index) => cell.padEnd(WIDTHS[index] ?? 0)).join('').trimEnd();
}

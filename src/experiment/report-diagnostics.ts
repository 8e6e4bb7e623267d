/**
 * The sections that make a run's report explain itself: the paper's diagnostic figure (perception
 * against planning from symbols, bubble = end-to-end success), failure kinds per model, success by
 * level, per-task validation curves during OPSD, and the resolved hyperparameters with the keys
 * changed from the preset. Everything is read from the run directory.
 */
import { existsSync, readFileSync } from 'node:fs';

import { bubbleChartSvg } from '../eval/bubble-chart.js';
import type { ReportFigure, ReportSection, Table } from '../eval/report.js';
import type { ResultsFile } from '../eval/results.js';
import { lineChartSvg } from '../eval/svg-chart.js';
import { readLog } from './append-log.js';
import type { ChangedKey } from './config-diff.js';
import type { ExperimentConfig } from './config.js';
import type { RunDir } from './run-dir.js';

/** Every diagnostic section the run's files allow, in report order. */
export function diagnosticSections(run: RunDir, results: ResultsFile, config: ExperimentConfig, changes: readonly ChangedKey[]): ReportSection[] {
  const sections: ReportSection[] = [];
  const figure = diagnosticFigure(results);
  if (figure !== null) {
    sections.push({
      heading: 'Diagnosis: perception vs planning from symbols',
      note: 'One bubble per model: x = share of test puzzles whose every perception field it reads right, y = its success when given the symbolic text state, bubble area = its end-to-end success on images.',
      figures: [figure],
    });
  }
  sections.push({ heading: 'Failure kinds on image input (% of test puzzles)', table: failureTable(run, results) });
  sections.push({ heading: 'Success by level (%)', table: levelTable(results) });
  const validation = validationCurves(run);
  if (validation !== null) sections.push({ heading: 'OPSD validation success per task', figures: [validation] });
  sections.push({ heading: 'Resolved hyperparameters', note: 'Every trained stage and the evaluation, as resolved (preset + --set); keys changed from the preset are marked.', table: hyperparameterTable(config, changes) });
  return sections;
}

function diagnosticFigure(results: ResultsFile): ReportFigure | null {
  const bubbles = Object.entries(results.perception).flatMap(([model, perTask]) => {
    const planning = results.macro[`${model}/text`];
    const endToEnd = results.macro[`${model}/image`];
    if (planning === undefined || endToEnd === undefined || perTask.length === 0) return [];
    return [{ label: model, perception: perTask.reduce((sum, task) => sum + task.all, 0) / perTask.length, planning, endToEnd }];
  });
  if (bubbles.length === 0) return null;
  return {
    caption: 'Perception (x) against planning from symbols (y); bubble area = end-to-end success on images (macro over tasks).',
    file: 'diagnosis.svg',
    content: { kind: 'svg', svg: bubbleChartSvg(bubbles, 'Where each model fails: reading the image, or planning') },
  };
}

function failureTable(run: RunDir, results: ResultsFile): Table {
  const models = Object.keys(results.macro).filter((key) => key.endsWith('/image')).map((key) => key.split('/')[0]!);
  const counts = new Map<string, Map<string, number>>();
  const totals = new Map<string, number>();
  for (const model of models) {
    const path = run.evaluation(model, 'image');
    const ofModel = new Map<string, number>();
    let total = 0;
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const row = JSON.parse(line) as { failure: string | null };
        total += 1;
        const kind = row.failure ?? 'success';
        ofModel.set(kind, (ofModel.get(kind) ?? 0) + 1);
      }
    }
    counts.set(model, ofModel);
    totals.set(model, total);
  }
  const kinds = [...new Set([...counts.values()].flatMap((ofModel) => [...ofModel.keys()]))].sort((a, b) => (a === 'success' ? -1 : b === 'success' ? 1 : a.localeCompare(b)));
  const rows = models.map((model) => [model, String(totals.get(model)), ...kinds.map((kind) => pct((counts.get(model)!.get(kind) ?? 0) / Math.max(1, totals.get(model)!)))]);
  return { header: ['model', 'n', ...kinds], rows };
}

function levelTable(results: ResultsFile): Table {
  const columns = [...new Set(results.rows.flatMap((row) => row.levels.map((level) => `${row.task} L${level.level}`)))];
  const keys = [...new Set(results.rows.map((row) => `${row.model} (${row.input})`))];
  const rows = keys.map((key) => [
    key,
    ...columns.map((column) => {
      const [task, levelText] = column.split(' L');
      const row = results.rows.find((r) => `${r.model} (${r.input})` === key && r.task === task);
      const level = row?.levels.find((l) => l.level === Number(levelText));
      return level === undefined ? '–' : `${pct(level.success)} (n ${level.n})`;
    }),
  ]);
  return { header: ['model (input)', ...columns], rows };
}

function validationCurves(run: RunDir): ReportFigure | null {
  const lines = readLog(run.metrics('opsd')).filter((row) => row.kind === 'validation');
  const tasks = [...new Set(lines.flatMap((row) => Object.keys(row).filter((key) => key.startsWith('val_') && key !== 'val_macro_success')))].sort();
  if (lines.length === 0 || tasks.length === 0) return null;
  const series = [...tasks, 'val_macro_success'].map((key) => ({
    name: key === 'val_macro_success' ? 'macro' : key.slice(4),
    points: lines.filter((row) => typeof row[key] === 'number').map((row): [number, number] => [row.step as number, row[key] as number]),
  }));
  const svg = lineChartSvg(series, { title: 'OPSD validation success per task', xLabel: 'OPSD training step', yLabel: 'success (fraction of validation puzzles)', yRange: [0, 1] });
  return { caption: 'Validation success per task during OPSD (validation decoding, level-balanced).', file: 'opsd-validation-tasks.svg', content: { kind: 'svg', svg } };
}

function hyperparameterTable(config: ExperimentConfig, changes: readonly ChangedKey[]): Table {
  const changed = new Map(changes.map((change) => [change.key, change]));
  const flat = flatten({ seed: config.seed, data: { seed: config.data.seed }, model: config.model, stages: config.stages, baselines: config.baselines, eval: config.eval, parser: config.parser });
  const rows = Object.entries(flat).map(([key, value]) => {
    const change = changed.get(key);
    return [key, JSON.stringify(value), change ? `changed (preset ${JSON.stringify(change.from)})` : ''];
  });
  return { header: ['key', 'value', 'vs preset'], rows };
}

function flatten(value: unknown, prefix = ''): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix === '' ? {} : { [prefix]: value };
  return Object.assign({}, ...Object.entries(value).map(([key, inner]) => flatten(inner, prefix === '' ? key : `${prefix}.${key}`))) as Record<string, unknown>;
}

function pct(rate: number): string {
  return (rate * 100).toFixed(1);
}

/**
 * `results.json`: the numbers of the paper's table for one run.
 *
 * ```
 * rows:   one per (model, input, task): n, success, optimal success, parse rate (with 95 % Wilson
 *         intervals of the pooled rates) and per-level numbers;
 * macro:  "<model>/<input>" → all-task macro success (mean over tasks of the level-balanced mean);
 * macro_optimal, perception, modality_gap (text − image, per task and macro), gap_closed.
 * out_of_distribution: the same rows and macros on the published sets of `eval.outOfDistribution`,
 *         one row per (model, input, set); its macro is the mean over sets and never enters `macro`
 *         or `gap_closed`.
 * ```
 * Everything but `wall_seconds` and `cpu_seconds` is a deterministic function of the config and seed
 * (whatever `backend.ranks` is, up to float reduction order).
 */
import { z } from 'zod';

import { ENV_NAMES } from '../envs/types.js';
import type { MetricsSummary } from './metrics.js';
import type { TaskPerception } from './perception.js';
import { MODEL, resultKey } from '../names.js';

/** What one model's evaluation produced (each part null when not asked for). */
export interface ModelEvaluation {
  image: MetricsSummary | null;
  text: MetricsSummary | null;
  perception: TaskPerception[] | null;
  /** One entry per out-of-distribution set (absent or empty: none configured). */
  outOfDistribution?: SetEvaluation[];
}

/** A model's evaluation on one out-of-distribution set. */
export interface SetEvaluation {
  /** The set's name (its file name without extension). */
  set: string;
  kind: string;
  levels: number[];
  image: MetricsSummary | null;
  text: MetricsSummary | null;
}

/** Which checkpoint of a trained model was evaluated (experiment/selection.ts). */
export interface ModelSelection {
  rule: 'best-val' | 'last';
  /** Steps done at the chosen checkpoint. */
  step: number;
  /** Steps the stage ran. */
  steps: number;
  /** Validation macro success at the chosen step (null: no validation there). */
  val_success: number | null;
}

/** One row of the table. */
export interface ResultRow {
  model: string;
  input: 'image' | 'text';
  task: string;
  n: number;
  success: number;
  optimal_success: number;
  parse_rate: number;
  success_ci: [number, number];
  optimal_success_ci: [number, number];
  levels: Array<{ level: number; n: number; success: number; optimal_success: number }>;
}

/** One row of the out-of-distribution table: a row of one published set. */
export interface OodRow extends ResultRow {
  set: string;
}

/** The out-of-distribution part of the results. */
export interface OodResults {
  sets: Array<{ name: string; kind: string; levels: number[] }>;
  rows: OodRow[];
  /** "<model>/<input>" → mean over sets of each set's level-balanced success. */
  macro: Record<string, number>;
  macro_optimal: Record<string, number>;
}

/** The whole results file. */
export interface ResultsFile {
  rows: ResultRow[];
  macro: Record<string, number>;
  macro_optimal: Record<string, number>;
  perception: Record<string, Array<{ task: string; n: number; all: number; fields: Record<string, number> }>>;
  modality_gap: Record<string, Record<string, number>>;
  /** (mgsd/image − sft/image) / (base/text − sft/image): the share of the gap OPSD closed. */
  gap_closed: number | null;
  /** The published sets, apart from the in-distribution numbers above. */
  out_of_distribution: OodResults;
  run: { name: string; seed: number; profile: string; model: string; dataset: string };
  /** Each trained model's chosen checkpoint (`eval.selection`): rule, step, of how many steps, its validation macro success. */
  selection: Record<string, ModelSelection>;
  wall_seconds: number;
  /** CPU seconds of every process of the run (Node and every worker rank); null off Linux. */
  cpu_seconds: number | null;
}

const ResultRowSchema = z.object({
  model: z.string(),
  input: z.enum(['image', 'text']),
  task: z.string(),
  n: z.number().int().nonnegative(),
  success: z.number(),
  optimal_success: z.number(),
  parse_rate: z.number(),
  success_ci: z.tuple([z.number(), z.number()]),
  optimal_success_ci: z.tuple([z.number(), z.number()]),
  levels: z.array(z.object({ level: z.number().int(), n: z.number().int(), success: z.number(), optimal_success: z.number() })),
});

/** `results.json` as read back (by `mgsd report` and `mgsd eval`): the shape `assembleResults` writes. */
export const ResultsFileSchema = z.object({
  rows: z.array(ResultRowSchema),
  macro: z.record(z.string(), z.number()),
  macro_optimal: z.record(z.string(), z.number()),
  perception: z.record(z.string(), z.array(z.object({ task: z.string(), n: z.number().int(), all: z.number(), fields: z.record(z.string(), z.number()) }))),
  modality_gap: z.record(z.string(), z.record(z.string(), z.number())),
  gap_closed: z.number().nullable(),
  // Results written before out-of-distribution sets existed read as having none.
  out_of_distribution: z
    .object({
      sets: z.array(z.object({ name: z.string(), kind: z.string(), levels: z.array(z.number().int()) })),
      rows: z.array(ResultRowSchema.extend({ set: z.string() })),
      macro: z.record(z.string(), z.number()),
      macro_optimal: z.record(z.string(), z.number()),
    })
    .default({ sets: [], rows: [], macro: {}, macro_optimal: {} }),
  run: z.object({ name: z.string(), seed: z.number().int(), profile: z.string(), model: z.string(), dataset: z.string() }),
  // Results written before the selection rule existed read as {} (not recorded).
  selection: z
    .record(z.string(), z.object({ rule: z.enum(['best-val', 'last']), step: z.number().int(), steps: z.number().int(), val_success: z.number().nullable() }))
    .default({}),
  wall_seconds: z.number(),
  // Results written before cpu_seconds existed read as null (not measured).
  cpu_seconds: z.number().nullable().default(null),
});
// Schema and interface must describe the same file, both ways (a compile-time check).
const _schemaMatches: [(file: ResultsFile) => z.input<typeof ResultsFileSchema>, (file: z.output<typeof ResultsFileSchema>) => ResultsFile] = [(file) => file, (file) => file];
void _schemaMatches;

/** Assembles the results from every model's evaluation (models in table order). */
export function assembleResults(
  evaluations: ReadonlyArray<[string, ModelEvaluation]>,
  run: ResultsFile['run'],
  wallSeconds: number,
  cpuSeconds: number | null = null,
  selection: Record<string, ModelSelection> = {},
): ResultsFile {
  const rows: ResultRow[] = [];
  const macro: Record<string, number> = {};
  const macroOptimal: Record<string, number> = {};
  const perception: ResultsFile['perception'] = {};
  const gap: ResultsFile['modality_gap'] = {};
  for (const [model, evaluation] of evaluations) {
    for (const input of ['image', 'text'] as const) {
      const summary = evaluation[input];
      if (summary === null) continue;
      rows.push(...rowsOf(model, input, summary));
      macro[`${model}/${input}`] = round(summary.macro.success);
      macroOptimal[`${model}/${input}`] = round(summary.macro.optimalSuccess);
    }
    if (evaluation.perception) perception[model] = evaluation.perception.map(perceptionRow);
    if (evaluation.image && evaluation.text) gap[model] = modalityGap(evaluation.image, evaluation.text);
  }
  const sft = macro[resultKey(MODEL.sft, 'image')];
  const base = macro[resultKey(MODEL.base, 'text')];
  const mgsd = macro[resultKey(MODEL.mgsd, 'image')];
  const gapClosed = sft !== undefined && base !== undefined && mgsd !== undefined && base !== sft ? round((mgsd - sft) / (base - sft)) : null;
  return {
    rows,
    macro,
    macro_optimal: macroOptimal,
    perception,
    modality_gap: gap,
    gap_closed: gapClosed,
    out_of_distribution: oodResultsOf(evaluations),
    run,
    selection,
    wall_seconds: round(wallSeconds, 1),
    cpu_seconds: cpuSeconds === null ? null : round(cpuSeconds, 1),
  };
}

/** The out-of-distribution rows and macros (mean over the sets a model/input was evaluated on). */
function oodResultsOf(evaluations: ReadonlyArray<[string, ModelEvaluation]>): OodResults {
  const out: OodResults = { sets: [], rows: [], macro: {}, macro_optimal: {} };
  const perKey = new Map<string, { success: number[]; optimal: number[] }>();
  for (const [model, evaluation] of evaluations) {
    for (const set of evaluation.outOfDistribution ?? []) {
      if (!out.sets.some((known) => known.name === set.set)) out.sets.push({ name: set.set, kind: set.kind, levels: [...set.levels] });
      for (const input of ['image', 'text'] as const) {
        const summary = set[input];
        if (summary === null) continue;
        out.rows.push(...rowsOf(model, input, summary).map((row) => ({ ...row, set: set.set })));
        const key = `${model}/${input}`;
        const means = perKey.get(key) ?? { success: [], optimal: [] };
        means.success.push(summary.macro.success);
        means.optimal.push(summary.macro.optimalSuccess);
        perKey.set(key, means);
      }
    }
  }
  const mean = (values: number[]) => round(values.reduce((sum, value) => sum + value, 0) / values.length);
  for (const [key, means] of perKey) {
    out.macro[key] = mean(means.success);
    out.macro_optimal[key] = mean(means.optimal);
  }
  return out;
}

function rowsOf(model: string, input: 'image' | 'text', summary: MetricsSummary): ResultRow[] {
  return summary.tasks.map((task) => ({
    model,
    input,
    task: task.task,
    n: task.n,
    success: round(task.levelBalanced.success),
    optimal_success: round(task.levelBalanced.optimalSuccess),
    parse_rate: round(task.levelBalanced.parsed),
    success_ci: [round(task.sampleMean.success.low), round(task.sampleMean.success.high)],
    optimal_success_ci: [round(task.sampleMean.optimalSuccess.low), round(task.sampleMean.optimalSuccess.high)],
    levels: task.levels.map((level) => ({
      level: level.level,
      n: level.n,
      success: round(level.success.rate),
      optimal_success: round(level.optimalSuccess.rate),
    })),
  }));
}

function perceptionRow(task: TaskPerception): ResultsFile['perception'][string][number] {
  return {
    task: task.task,
    n: task.n,
    all: round(task.all.rate),
    fields: Object.fromEntries(Object.entries(task.fields).map(([field, rate]) => [field, round(rate.rate)])),
  };
}

/** text − image success per task and macro. */
function modalityGap(image: MetricsSummary, text: MetricsSummary): Record<string, number> {
  const out: Record<string, number> = {};
  for (const task of ENV_NAMES) {
    const i = image.tasks.find((t) => t.task === task);
    const t = text.tasks.find((x) => x.task === task);
    if (i && t) out[task] = round(t.levelBalanced.success - i.levelBalanced.success);
  }
  out.macro = round(text.macro.success - image.macro.success);
  return out;
}

function round(value: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

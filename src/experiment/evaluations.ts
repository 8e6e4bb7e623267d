/**
 * The evaluations of a run: every (model, input) pair of the table on the test split, perception on
 * the held-out test split, each written to `eval/` as it finishes. The same code evaluates an
 * out-of-distribution set (`ood-evaluations.ts`): other records, file parts with a prefix. A finished evaluation's summary file
 * is its "done" mark, so a resumed run does not repeat it.
 */
import { existsSync } from 'node:fs';

import type { z } from 'zod';

import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { type EvalContext, evaluateRecords } from '../eval/benchmark.js';
import type { MetricsSummary } from '../eval/metrics.js';
import { evaluatePerception, gradePerception, type TaskPerception } from '../eval/perception.js';
import type { ModelEvaluation } from '../eval/results.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { toScoreLine } from '../rollout/grade.js';
import type { ImageSource } from '../rollout/views.js';
import type { ExperimentConfig } from './config.js';
import { gradingOf, viewOptionsOf } from './run-options.js';
import type { RunDir } from './run-dir.js';
import { MetricsSummarySchema, PerceptionSummarySchema } from './run-files.js';

/** A model of the table, as loaded in some worker. */
export interface ModelHandle {
  /** `base`, `sft`, `mgsd`, `visual-sft`, `grpo`. */
  name: string;
  worker: WorkerHandle;
  role: string;
}

export type InputKind = 'image' | 'text';

/** Run-wide inputs of every evaluation. */
export interface EvaluationServices {
  config: ExperimentConfig;
  run: RunDir;
  images: ImageSource;
  /** The records evaluated: the test split, or an out-of-distribution set. */
  test: readonly DataRecord[];
  note: (message: string) => void;
  /** Prefix of the `eval/` file parts (`ood-<set>-`) for a set other than the test split. */
  partPrefix?: string;
}

/** How a model is decoded for the table (greedy by default, as the official benchmark). */
export function evalContext(services: EvaluationServices, model: ModelHandle): EvalContext {
  return benchmarkContext(services.config, services.images, model.worker, model.role);
}

/** The benchmark decoding of `role` on `worker` under `config` (also used by `mgsd eval`). */
export function benchmarkContext(config: ExperimentConfig, images: ImageSource, worker: WorkerHandle, role: string): EvalContext {
  return {
    worker,
    role,
    viewOptions: viewOptionsOf(config),
    images,
    grading: gradingOf(config),
    batchSize: config.eval.batchSize,
    maxNewTokens: config.eval.maxNewTokens,
    temperature: config.eval.temperature,
    topP: 1,
    seed: config.seed,
  };
}

/** What to evaluate for one model. */
export interface EvaluationPlan {
  inputs: InputKind[];
  perception: boolean;
}

/** True when every part of `plan` for `model` was finished by this or an earlier attempt. */
export function isEvaluated(services: EvaluationServices, model: string, plan: EvaluationPlan): boolean {
  const paths = plan.inputs.map((input) => summaryPath(services, model, input));
  if (plan.perception) paths.push(summaryPath(services, model, 'perception'));
  return paths.every(existsSync);
}

/** Evaluates `model` on the test split: each input of `plan`, then perception; finished parts are read back. */
export async function evaluateModel(services: EvaluationServices, model: ModelHandle, plan: EvaluationPlan): Promise<ModelEvaluation> {
  const result: ModelEvaluation = { image: null, text: null, perception: null };
  let imageTexts: string[] | null = null;
  for (const input of plan.inputs) {
    const path = summaryPath(services, model.name, input);
    if (existsSync(path)) {
      result[input] = readSummary(services, path, MetricsSummarySchema) as unknown as MetricsSummary; // deep parts checked loosely
      continue;
    }
    const outcome = await evaluateRecords(services.test, input === 'image' ? 'student' : 'text', evalContext(services, model));
    const lines = outcome.graded.map((graded, i) => JSON.stringify({ ...toScoreLine(graded), response: outcome.texts[i] }));
    writeFileAtomic(services.run.evaluation(model.name, partName(services, input)), `${lines.join('\n')}\n`);
    services.run.writeJson(path, outcome.summary);
    services.note(`[eval] ${model.name}/${input}${services.partPrefix ? ` on ${services.partPrefix.replace(/-$/, '')}` : ''}: macro success ${(outcome.summary.macro.success * 100).toFixed(1)}% (n ${outcome.summary.n})`);
    result[input] = outcome.summary;
    if (input === 'image') imageTexts = outcome.texts;
  }
  if (plan.perception) result.perception = await perceptionOf(services, model, imageTexts);
  return result;
}

/** Perception on the test split: from the image responses' read-outs, or by asking the perception questions. */
async function perceptionOf(services: EvaluationServices, model: ModelHandle, imageTexts: string[] | null): Promise<TaskPerception[]> {
  const path = summaryPath(services, model.name, 'perception');
  if (existsSync(path)) return readSummary(services, path, PerceptionSummarySchema) as unknown as TaskPerception[];
  const source = services.config.stages.sft.target;
  const perception =
    source === 'readout' && imageTexts !== null
      ? gradePerception(services.test, imageTexts, services.config.profile)
      : await evaluatePerception(services.test, source, evalContext(services, model));
  services.run.writeJson(path, perception);
  return perception;
}

/** A finished evaluation's summary; a damaged one says how to redo that evaluation. */
function readSummary<S extends z.ZodType>(services: EvaluationServices, path: string, schema: S): z.infer<S> {
  const remedy = `Delete ${path} and run \`mgsd run --resume ${services.run.root}\`: that evaluation is then done again.`;
  return services.run.readFile(path, schema, 'evaluation summary', remedy);
}

function summaryPath(services: EvaluationServices, model: string, part: InputKind | 'perception'): string {
  return services.run.evaluation(model, partName(services, part)).replace(/\.jsonl$/, '.summary.json');
}

function partName(services: EvaluationServices, part: InputKind | 'perception'): string {
  return `${services.partPrefix ?? ''}${part}`;
}

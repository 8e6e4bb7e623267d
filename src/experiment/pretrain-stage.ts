/**
 * The worker side of `mgsd pretrain`: the tiny base stage of `mgsd run` (`runBaseStage`: text-only
 * planning, a fraction `teacherViewFraction` of prompts with the reference plan) on the student as a
 * rank group (`backend.ranks`) with every core, then the evaluation of its final checkpoint on the
 * test split from the text view and from the teacher's view with the reference plan, then the model
 * in the tiny export layout.
 *
 * Invariants: every step is skipped when the run already finished it (the run state for the stage,
 * the summary file for an evaluation), so `--resume` continues where an attempt stopped; the stage is
 * reused from the stage cache when its key matches (`stage-reuse.ts`), exactly as in `mgsd run`.
 */
import { existsSync } from 'node:fs';

import { evaluateRecords } from '../eval/benchmark.js';
import type { MetricsSummary } from '../eval/metrics.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { toScoreLine } from '../rollout/grade.js';
import { ImageSource } from '../rollout/views.js';
import { MODEL, STAGE } from '../names.js';
import type { ExperimentConfig } from './config.js';
import { checkpointPath, contextOf, type PipelineContext, startWorkers, workerFor } from './context.js';
import { viewOptionsOf } from './run-options.js';
import { ensureDataset } from './dataset-stage.js';
import { benchmarkContext } from './evaluations.js';
import { loadRequest, type Placement, ranksOf } from './models.js';
import { runAlone } from './pipeline.js';
import { MetricsSummarySchema } from './run-files.js';
import { RunState } from './run-state.js';
import type { RunServices } from './stage-runtime.js';
import { runBaseStage } from './stages.js';
import { interrupted } from './supervised-stages.js';

/** The evaluation inputs of a pretrained base: the text-only view, and the teacher's view with the reference plan. */
export const BASE_INPUTS = ['text', 'teacher'] as const;
/** One of `BASE_INPUTS`. */
export type BaseInput = (typeof BASE_INPUTS)[number];

/** What the worker side produced. */
export interface PretrainedBase {
  stepsDone: number;
  metrics: Record<BaseInput, MetricsSummary>;
  dataset: { key: string; dir: string };
}

/** The role the finished base is loaded under for its evaluation and export. */
const ROLE = MODEL.base;

/**
 * Trains (or resumes, or reuses) the base stage, evaluates it and saves it in the tiny export layout
 * to `exportDir` (written atomically by the worker; the caller adds the card).
 */
export async function pretrainBase(config: ExperimentConfig, configDir: string | null, services: RunServices, exportDir: string): Promise<PretrainedBase> {
  const placement: Placement = {
    workers: { student: { threads: config.backend.threadsPerWorker, ranks: ranksOf(config) } },
    student: 'student',
    teacher: 'student',
    baseline: 'student',
    isTeacherSeparate: false,
  };
  services.progress.note(`[backend] starting the student worker (${ranksOf(config)} rank(s))`);
  const client = await startWorkers(config, placement.workers, services.run.logs);
  try {
    const { dataset, key } = ensureDataset(config, configDir, services.progress);
    // The card measures the base on its test split; `mgsd run` scores the published sets.
    const context = contextOf({ config, services, client, placement, dataset, outOfDistribution: [] }, key, new RunState(services.run), new ImageSource(viewOptionsOf(config)));
    const base = await context.reuse.stage(STAGE.base, () => runAlone(context, () => runBaseStage(context)));
    context.reuse.recordInManifest();
    // A stop asked for after the last training step: the stage is finished, the evaluations are next.
    if (services.stop.requested) throw interrupted('evaluation', base.stepsDone, services.run.root);
    const worker = workerFor(context, 'student');
    await worker.load(loadRequest(config, ROLE, checkpointPath(context, base.checkpoint), null));
    const metrics = await runAlone(context, () => evaluateBase(context));
    await worker.save({ role: ROLE, dir: exportDir, include_optimizer: false, layout: 'hub' });
    return { stepsDone: base.stepsDone, metrics, dataset: { key, dir: dataset.dir } };
  } finally {
    await client.close();
  }
}

/** Evaluates the loaded base on the test split from each of `BASE_INPUTS`; finished inputs are read back. */
async function evaluateBase(context: PipelineContext): Promise<Record<BaseInput, MetricsSummary>> {
  const { run } = context.services;
  const metrics: Partial<Record<BaseInput, MetricsSummary>> = {};
  for (const input of BASE_INPUTS) {
    const responses = run.evaluation(ROLE, input);
    const summaryPath = responses.replace(/\.jsonl$/, '.summary.json');
    if (existsSync(summaryPath)) {
      const remedy = `Delete ${summaryPath} and resume: that evaluation is then done again.`;
      metrics[input] = run.readFile(summaryPath, MetricsSummarySchema, 'evaluation summary', remedy) as unknown as MetricsSummary;
      continue;
    }
    const benchmark = benchmarkContext(context.config, context.images, workerFor(context, 'student'), ROLE);
    const outcome = await evaluateRecords(context.splits.test, input, benchmark);
    const lines = outcome.graded.map((graded, i) => JSON.stringify({ ...toScoreLine(graded), response: outcome.texts[i] }));
    writeFileAtomic(responses, `${lines.join('\n')}\n`);
    run.writeJson(summaryPath, outcome.summary);
    context.services.progress.note(`[eval] base/${input}: macro success ${(outcome.summary.macro.success * 100).toFixed(1)}% (n ${outcome.summary.n})`);
    metrics[input] = outcome.summary;
  }
  return metrics as Record<BaseInput, MetricsSummary>;
}

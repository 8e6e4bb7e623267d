/**
 * The supervised stages of `mgsd run` — the tiny model's text-only base pretraining, the cold-start
 * perception SFT, and the visual-SFT baseline — on one runner: load the role (from the stage's own
 * checkpoint when resuming), train, record the final checkpoint (the selected one for the baseline)
 * in the run state.
 */
import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { RunInterrupted } from '../errors.js';
import { runSupervisedStage, type SupervisedExample } from '../train/supervised.js';
import { checkpointPath, type PipelineContext, scheduleOf } from './context.js';
import { loadRequest } from './models.js';
import type { FinishedStage } from './run-state.js';
import { selectedStage, stageValidation } from './selection.js';
import { openStage } from './stage-runtime.js';

/** The optimisation settings a supervised stage reads from its config section. */
export interface SupervisedSettings {
  steps: number;
  lr: number;
  schedule: 'cosine' | 'constant';
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  gradClip: number;
  batchSize: number;
}

/** One supervised stage of the pipeline. */
export interface SupervisedStageSpec {
  stage: string;
  worker: WorkerHandle;
  role: string;
  /** Run-relative checkpoint to start from (null = the configured model's own weights). */
  from: string | null;
  withLora: boolean;
  settings: SupervisedSettings;
  records: readonly DataRecord[];
  example: (record: DataRecord, step: number, index: number) => SupervisedExample;
  /**
   * A trained model of the table (the visual-SFT baseline): validated and its checkpoint selected
   * like every trained model (`selection.ts`), under this model name. Absent: no validation, the
   * last checkpoint (base, cold start: inputs of the next stages, not compared models).
   */
  selectAs?: string;
}

/** Runs (or resumes, or skips when finished) a supervised stage; returns its final checkpoint. */
export async function runSupervisedPipelineStage(context: PipelineContext, spec: SupervisedStageSpec): Promise<FinishedStage> {
  const finished = context.state.get(spec.stage);
  if (finished) return finished;
  const { config, services } = context;
  const total = spec.settings.steps;
  const runtime = openStage(services, spec.stage, total, spec.worker, spec.role);
  const init = runtime.resumed ? runtime.resumed.dir : spec.from;
  await spec.worker.load(
    loadRequest(config, spec.role, init === null ? null : checkpointPath(context, init), { weightDecay: spec.settings.weightDecay }, { withLora: spec.withLora, restoreOptimizer: runtime.resumed !== null }),
  );
  if (runtime.resumed) services.progress.note(`[${spec.stage}] resuming after step ${runtime.startStep}`);
  const outcome = await runSupervisedStage(
    {
      stage: spec.stage,
      worker: spec.worker,
      role: spec.role,
      records: spec.records,
      example: spec.example,
      schedule: scheduleOf(spec.settings, total),
      gradClip: spec.settings.gradClip,
      microBatchSize: config.backend.microBatchSize,
      batchSize: spec.settings.batchSize,
      seed: config.seed,
      startStep: runtime.startStep,
      checkpointEvery: Math.max(1, Math.ceil(total / 4)),
      images: context.images,
      imageSizePx: config.data.imageSizePx,
      validation: spec.selectAs === undefined ? null : stageValidation(context, spec.stage, runtime, { name: spec.selectAs, worker: spec.worker, role: spec.role }),
    },
    runtime.io,
  );
  if (total === 0) await runtime.io.checkpoint(0, {});
  runtime.close({ steps: outcome.stepsDone });
  if (outcome.interrupted) throw interrupted(spec.stage, outcome.stepsDone, services.run.root);
  const result = spec.selectAs === undefined ? { stepsDone: outcome.stepsDone, checkpoint: runtime.checkpoints.latest()!.dir } : selectedStage(context, spec.stage, runtime, outcome.stepsDone);
  context.state.finish(spec.stage, result);
  return result;
}

/** The error that ends an interrupted run. */
export function interrupted(stage: string, stepsDone: number, root: string): RunInterrupted {
  return new RunInterrupted('interrupted', `interrupted during ${stage} after ${stepsDone} steps; the state was checkpointed`, {
    hint: `Continue with: npx mgsd run --resume ${root}`,
  });
}

/**
 * The supervised stages of the pipeline, defined by what they teach:
 * - `base` (tiny model only): text-only symbolic pretraining — the stand-in for a base VLM's planning
 *   prior. Prompts are the text-only student view, or (a fraction `teacherViewFraction`) the
 *   teacher's view with the reference plan, so the frozen teacher later knows how to use it.
 *   Targets are full responses (read-out, plan).
 * - `sft` (cold start): perception on images — the state read-out of the planning response and
 *   the hand-over to the plan (`target: readout`, no EOS: the model continues with its own plan),
 *   or the perception QA.
 * - `visual-sft` (baseline): ground-truth answers (or full responses) on images, from the SFT checkpoint.
 */
import type { DataRecord } from '../data/schema.js';
import { deriveSeed, getEnv, readoutPrefix, Rng } from '../envs/index.js';
import type { Instance, PromptProfile } from '../envs/types.js';
import { viewOf } from '../rollout/views.js';
import type { SupervisedExample } from '../train/supervised.js';
import type { ExperimentConfig } from './config.js';
import { type PipelineContext, workerFor } from './context.js';
import type { FinishedStage } from './run-state.js';
import { baselineSteps } from './budgets.js';
import { runSupervisedPipelineStage } from './supervised-stages.js';
import { MODEL, STAGE } from '../names.js';

/** The full ground-truth response of a record (read-out, plan sentence, answer). */
function targetOf(record: DataRecord, profile: PromptProfile): string {
  return getEnv(record.task).prompts.targetResponse(record.instance as Instance as never, profile, record.solution.plan);
}

/** Text-only base pretraining of the tiny model (its checkpoint is the teacher and the student's start). */
export function runBaseStage(context: PipelineContext): Promise<FinishedStage> {
  const { config } = context;
  return runSupervisedPipelineStage(context, {
    stage: STAGE.base,
    worker: workerFor(context, 'student'),
    role: 'student',
    from: null,
    withLora: false,
    settings: config.stages.base,
    records: context.splits.train,
    example: (record, step, index) => baseExample(config, record, step, index),
  });
}

/**
 * A base-stage example: the text-only planning prompt, or (a fraction `teacherViewFraction`) the
 * teacher's view with the reference plan, with the full target response.
 */
function baseExample(config: ExperimentConfig, record: DataRecord, step: number, index: number): SupervisedExample {
  const coin = new Rng(deriveSeed('base-view', config.seed, step, index)).float();
  const kind = coin < config.stages.base.teacherViewFraction ? 'teacher' : 'text';
  return { view: viewOf(record, kind, config.profile), target: targetOf(record, config.profile), appendEos: true };
}

/**
 * Cold-start perception SFT of the student on images, from `base` (null = the configured model).
 * A fraction `rehearsalFraction` of the steps (tiny model) replays base-stage text examples, so
 * that learning to read images does not erase the planning the base learned.
 */
export function runColdStartStage(context: PipelineContext, base: FinishedStage | null): Promise<FinishedStage> {
  const { config } = context;
  const settings = config.stages.sft;
  return runSupervisedPipelineStage(context, {
    stage: STAGE.sft,
    worker: workerFor(context, 'student'),
    role: 'student',
    from: base?.checkpoint ?? null,
    withLora: settings.lora.enabled,
    settings,
    records: context.splits.train,
    example: (record, step, index) => {
      const rehearse = new Rng(deriveSeed('sft-rehearsal', config.seed, step)).float() < settings.rehearsalFraction;
      if (rehearse) return baseExample(config, record, step, index);
      const profile = config.profile;
      if (settings.target === 'readout') {
        return { view: viewOf(record, 'student', profile), target: readoutPrefix(targetOf(record, profile), profile), appendEos: false };
      }
      const perception = getEnv(record.task).prompts.perception(record.instance as Instance as never, profile);
      return { view: viewOf(record, 'perception', profile), target: perception.answer, appendEos: true };
    },
  });
}

/** The visual-SFT baseline: ground-truth answers (or full responses) on images, at least OPSD's training samples by default. */
export function runVisualSftStage(context: PipelineContext, from: FinishedStage | null): Promise<FinishedStage> {
  const { config } = context;
  const settings = config.baselines.visualSft;
  return runSupervisedPipelineStage(context, {
    stage: STAGE.visualSft,
    worker: workerFor(context, 'baseline'),
    role: STAGE.visualSft,
    from: from?.checkpoint ?? null,
    withLora: false,
    settings: { ...settings, steps: baselineSteps(config, 'visualSft') },
    selectAs: MODEL.visualSft,
    records: context.splits.train,
    example: (record) => {
      const target =
        settings.target === 'full'
          ? targetOf(record, config.profile)
          : getEnv(record.task).prompts.answerResponse(record.solution.plan, config.profile);
      return { view: viewOf(record, 'student', config.profile), target, appendEos: true };
    },
  });
}

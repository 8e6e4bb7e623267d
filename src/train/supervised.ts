/**
 * A supervised stage: next-token cross-entropy on target responses through the worker's
 * `sft_step`. Used for the tiny model's text-only base pretraining, the cold-start perception SFT
 * and the visual-SFT baseline; they differ only in the examples they feed.
 */
import type { WorkerHandle } from '../backend/client.js';
import type { ChatView } from '../chat.js';
import type { DataRecord } from '../data/schema.js';
import { type ImageSource, imagesFor } from '../rollout/views.js';
import { BatchSchedule } from './batches.js';
import { learningRateAt, type LrSchedule } from './schedule.js';
import { explainStepFailure, finishStep, type StageIo, type StageOutcome, type ValidationHook } from './stage-io.js';

/** One training pair: the prompt as chat messages and the response text to learn. */
export interface SupervisedExample {
  view: ChatView;
  target: string;
  /** End the target with EOS (false for a prefix the model must continue). Same for a whole batch. */
  appendEos: boolean;
}

/** Everything a supervised stage needs. */
export interface SupervisedStagePlan {
  stage: string;
  worker: WorkerHandle;
  role: string;
  records: readonly DataRecord[];
  /** The example for `record` at position `index` of the batch of `step` (deterministic). */
  example: (record: DataRecord, step: number, index: number) => SupervisedExample;
  schedule: LrSchedule;
  gradClip: number;
  /** Rows per forward/backward (backend.microBatchSize); null = the whole batch at once. */
  microBatchSize: number | null;
  batchSize: number;
  seed: number;
  /** Steps already done (resume). */
  startStep: number;
  checkpointEvery: number;
  /** Validation and best-checkpoint marking (null: none). */
  validation: ValidationHook | null;
  images: ImageSource;
  imageSizePx: number;
}

/** Runs `plan.schedule.totalSteps` steps (or until stopped); checkpoints through `io`. */
export async function runSupervisedStage(plan: SupervisedStagePlan, io: StageIo): Promise<StageOutcome> {
  const total = plan.schedule.totalSteps;
  const batches = new BatchSchedule(plan.records.length, plan.batchSize, plan.seed, plan.stage);
  let lastCheckpoint = plan.startStep;
  const checkpoint = async (stepsDone: number): Promise<void> => {
    await io.checkpoint(stepsDone, {});
    lastCheckpoint = stepsDone;
  };
  for (let step = plan.startStep; step < total; step += 1) {
    if (io.shouldStop()) {
      await io.checkpoint(step, {});
      return { stepsDone: step, interrupted: true };
    }
    const records = batches.indicesAt(step).map((i) => plan.records[i]!);
    const examples = records.map((record, index) => plan.example(record, step, index));
    const views = examples.map((e) => e.view);
    const appendEos = examples[0]!.appendEos;
    if (examples.some((e) => e.appendEos !== appendEos)) throw new RangeError(`${plan.stage} step ${step + 1}: a batch mixes targets with and without EOS`);
    const lr = learningRateAt(plan.schedule, step);
    let reply;
    try {
      reply = await plan.worker.sftStep(
        { role: plan.role, views, targets: examples.map((e) => e.target), append_eos: appendEos, lr, grad_clip: plan.gradClip, micro_batch_size: plan.microBatchSize },
        imagesFor(records, views, plan.images, plan.imageSizePx),
      );
    } catch (error) {
      throw explainStepFailure(error, plan.stage, step, lastCheckpoint);
    }
    const { loss, grad_norm: gradNorm, tokens, update_rel_norm: relNorm, update_changed_fraction: changed } = reply.result;
    io.logMetrics(step + 1, { loss, grad_norm: gradNorm, lr, tokens, update_rel_norm: relNorm, update_changed_fraction: changed });
    io.progress(step + 1, { loss });
    await finishStep(step + 1, total, plan.checkpointEvery, plan.validation, checkpoint);
  }
  return { stepsDone: total, interrupted: false };
}

/**
 * The GRPO baseline: reinforcement learning from the simulator's reward alone (no teacher).
 *
 * Each step samples `groupSize` responses for each of `batchSize / groupSize` prompts; the reward
 * is 1 for a successful plan and 0 otherwise; advantages are the rewards standardised within each
 * prompt's group (all-equal groups give 0); `pg_step` applies the PPO-clipped policy gradient with
 * the sampling log-probs as the old policy.
 */
import { tensor } from '../backend/codec.js';
import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { deriveSeed } from '../envs/index.js';
import type { GradingOptions } from '../rollout/grade.js';
import { sampleRollouts } from '../rollout/sample.js';
import type { RolloutBatch } from '../rollout/types.js';
import type { ImageSource, ViewOptions } from '../rollout/views.js';
import { BatchSchedule } from './batches.js';
import { rolloutLedgerRows, rolloutMetrics } from './rollout-metrics.js';
import { learningRateAt, type LrSchedule } from './schedule.js';
import { explainStepFailure, finishStep, type StageIo, type StageOutcome, type ValidationHook } from './stage-io.js';

/** Everything the GRPO stage needs. */
export interface GrpoStagePlan {
  stage: string;
  worker: WorkerHandle;
  role: string;
  records: readonly DataRecord[];
  viewOptions: ViewOptions;
  images: ImageSource;
  grading: GradingOptions;
  groupSize: number;
  clip: { low: number; high: number; dual: number };
  rollout: { temperature: number; topP: number; maxNewTokens: number };
  schedule: LrSchedule;
  gradClip: number;
  /** Rows per forward/backward (backend.microBatchSize); null = the whole batch at once. */
  microBatchSize: number | null;
  /** Responses per step (prompts × group size). */
  batchSize: number;
  seed: number;
  startStep: number;
  checkpointEvery: number;
  /** Validation and best-checkpoint marking (null: none). */
  validation: ValidationHook | null;
}

/** Prompts per GRPO step: `batchSize` rows hold `groupSize` responses to each (at least one prompt). */
export function grpoPrompts(batchSize: number, groupSize: number): number {
  return Math.max(1, Math.floor(batchSize / groupSize));
}

/** Runs the GRPO loop. */
export async function runGrpoStage(plan: GrpoStagePlan, io: StageIo): Promise<StageOutcome> {
  const total = plan.schedule.totalSteps;
  const prompts = grpoPrompts(plan.batchSize, plan.groupSize);
  const batches = new BatchSchedule(plan.records.length, prompts, plan.seed, plan.stage);
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
    const records = batches.indicesAt(step).flatMap((i) => Array<DataRecord>(plan.groupSize).fill(plan.records[i]!));
    const rollouts = await sampleRollouts(
      records,
      { ...plan.rollout, seed: deriveSeed('rollout', plan.seed, plan.stage, step) },
      { worker: plan.worker, role: plan.role, view: 'student', viewOptions: plan.viewOptions, images: plan.images, grading: plan.grading },
    );
    const lr = learningRateAt(plan.schedule, step);
    let reply;
    try {
      reply = await plan.worker.pgStep(
        { role: plan.role, views: rollouts.views, lr, grad_clip: plan.gradClip, clip: plan.clip, micro_batch_size: plan.microBatchSize },
        {
          ...(rollouts.images ? { images: rollouts.images } : {}),
          response_ids: rollouts.responseIds,
          response_mask: rollouts.responseMask,
          advantages: tensor('float32', [records.length], groupAdvantages(rollouts, plan.groupSize)),
          old_logprobs: rollouts.logprobs,
        },
      );
    } catch (error) {
      throw explainStepFailure(error, plan.stage, step, lastCheckpoint);
    }
    const metrics = rolloutMetrics(rollouts, reply.result, null, plan.viewOptions.profile);
    io.logMetrics(step + 1, { ...metrics, lr });
    io.logLedger(rolloutLedgerRows(plan.stage, step + 1, step, rollouts, null));
    io.progress(step + 1, { reward: metrics.reward_success ?? 'n/a', loss: reply.result.loss });
    await finishStep(step + 1, total, plan.checkpointEvery, plan.validation, checkpoint);
  }
  return { stepsDone: total, interrupted: false };
}

/** Rewards (1 = success) standardised within each consecutive group of `groupSize` rows. */
export function groupAdvantages(rollouts: Pick<RolloutBatch, 'grades'>, groupSize: number): Float32Array {
  const rewards: number[] = rollouts.grades.map((grade) => (grade.success ? 1 : 0));
  const advantages = new Float32Array(rewards.length);
  for (let start = 0; start < rewards.length; start += groupSize) {
    const group = rewards.slice(start, start + groupSize);
    const mean = group.reduce((a: number, b: number) => a + b, 0) / group.length;
    const std = Math.sqrt(group.reduce((a: number, b: number) => a + (b - mean) ** 2, 0) / group.length);
    group.forEach((reward, i) => {
      advantages[start + i] = std > 1e-6 ? (reward - mean) / std : 0;
    });
  }
  return advantages;
}

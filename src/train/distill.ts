/**
 * On-policy self-distillation (OPSD), the second stage of MGSD.
 *
 * Each step: the student samples one response per prompt from the IMAGE view; TypeScript grades it
 * (reward logged, not used); the frozen teacher scores the same response tokens under its TEXT view
 * (symbolic state, with the reference plan by default); `distill_step` turns the per-token
 * teacher−student log-ratio into the student's update with the configured estimator.
 *
 * Overlap (`overlap: true`, DESIGN.md §5): the student's sampling of step k+1 is queued before its
 * update of step k, so it runs while the teacher (another process) scores step k. Those rollouts are
 * one update stale; their sampling log-probs go to `distill_step` as `old_logprobs`, so the PPO
 * ratio corrects for it. Rollouts already sampled for the next step are stored in each checkpoint,
 * which keeps a resumed run identical to an uninterrupted one.
 *
 * Failure: a step that fails (a worker died or stalled) throws its error at once. The prefetched
 * sampling of the next step is then abandoned; it is created through `prefetch`, so its own
 * rejection (the same dead worker) is handled and never becomes an unhandled rejection.
 */
import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { deriveSeed } from '../envs/index.js';
import type { PromptProfile } from '../envs/types.js';
import type { GradingOptions } from '../rollout/grade.js';
import { type SampleContext, sampleRollouts } from '../rollout/sample.js';
import { deserializeRollouts, type SerializedRollouts, serializeRollouts } from '../rollout/serialize.js';
import type { RolloutBatch } from '../rollout/types.js';
import { type ImageSource, viewOf, type ViewOptions } from '../rollout/views.js';
import { BatchSchedule } from './batches.js';
import { rolloutLedgerRows, rolloutMetrics } from './rollout-metrics.js';
import { learningRateAt, type LrSchedule } from './schedule.js';
import { explainStepFailure, finishStep, type StageIo, type StageOutcome, type ValidationHook } from './stage-io.js';
import { type Estimator, type TeacherSource, teacherPayload } from './teacher.js';

/** Everything the OPSD stage needs. */
export interface DistillStagePlan {
  stage: string;
  student: WorkerHandle;
  studentRole: string;
  teacher: TeacherSource;
  /** The teacher's view: with the reference plan (official default) or without. */
  teacherView: 'teacher' | 'teacher-no-plan';
  records: readonly DataRecord[];
  lookup: (id: string) => DataRecord;
  viewOptions: ViewOptions;
  images: ImageSource;
  grading: GradingOptions;
  estimator: Estimator;
  topk: number;
  clip: { low: number; high: number; dual: number };
  rollout: { temperature: number; topP: number; maxNewTokens: number };
  schedule: LrSchedule;
  gradClip: number;
  /** Rows per forward/backward (backend.microBatchSize); null = the whole batch at once. */
  microBatchSize: number | null;
  batchSize: number;
  seed: number;
  startStep: number;
  checkpointEvery: number;
  overlap: boolean;
  /** Rollouts sampled before the checkpoint we resume from (overlap mode). */
  pendingRollouts: SerializedRollouts | null;
  /** Validation and best-checkpoint marking (null: none). */
  validation: ValidationHook | null;
}

/** Runs the OPSD loop; returns when done or stopped. */
export async function runDistillStage(plan: DistillStagePlan, io: StageIo): Promise<StageOutcome> {
  const total = plan.schedule.totalSteps;
  const batches = new BatchSchedule(plan.records.length, plan.batchSize, plan.seed, plan.stage);
  const context: SampleContext = {
    worker: plan.student,
    role: plan.studentRole,
    view: 'student',
    viewOptions: plan.viewOptions,
    images: plan.images,
    grading: plan.grading,
  };
  const sampleAt = (step: number): Promise<RolloutBatch> =>
    prefetch(
      sampleRollouts(
        batches.indicesAt(step).map((i) => plan.records[i]!),
        { ...plan.rollout, seed: deriveSeed('rollout', plan.seed, plan.stage, step) },
        context,
      ),
    );
  let next: Promise<RolloutBatch> | null =
    plan.pendingRollouts !== null
      ? Promise.resolve(deserializeRollouts(plan.pendingRollouts, plan.lookup, 'student', context))
      : plan.startStep < total
        ? sampleAt(plan.startStep)
        : null;
  let lastCheckpoint = plan.startStep;
  const checkpoint = async (stepsDone: number): Promise<void> => {
    const pending = plan.overlap && next !== null ? serializeRollouts(await next) : null;
    await io.checkpoint(stepsDone, { pendingRollouts: pending });
    lastCheckpoint = stepsDone;
  };

  for (let step = plan.startStep; step < total; step += 1) {
    if (io.shouldStop()) {
      await checkpoint(step);
      return { stepsDone: step, interrupted: true };
    }
    const started = performance.now();
    const rollouts = await next!;
    next = null;
    const sampled = performance.now();
    const teacherViews = rollouts.records.map((record) => viewOf(record, plan.teacherView, plan.viewOptions.profile));
    const teacherReady = prefetch(teacherPayload(plan.teacher, rollouts, teacherViews, plan.estimator, plan.topk, plan.rollout.temperature || 1));
    if (plan.overlap && step + 1 < total) next = sampleAt(step + 1);
    const lr = learningRateAt(plan.schedule, step);
    let reply;
    let scored = sampled;
    try {
      const teacher = await teacherReady;
      scored = performance.now();
      reply = await plan.student.distillStep(
        {
          role: plan.studentRole,
          views: rollouts.views,
          estimator: plan.estimator,
          temperature: plan.rollout.temperature || 1,
          lr,
          grad_clip: plan.gradClip,
          micro_batch_size: plan.microBatchSize,
          clip: plan.clip,
          teacher: teacher.teacher,
          k: plan.estimator === 'topk' ? plan.topk : null,
        },
        {
          ...(rollouts.images ? { images: rollouts.images } : {}),
          response_ids: rollouts.responseIds,
          response_mask: rollouts.responseMask,
          ...(plan.overlap ? { old_logprobs: rollouts.logprobs } : {}),
          ...teacher.tensors,
        },
      );
      reply.result.teacher_entropy ??= teacher.entropyMean;
    } catch (error) {
      throw explainStepFailure(error, plan.stage, step, lastCheckpoint);
    }
    if (!plan.overlap && step + 1 < total) next = sampleAt(step + 1);
    const profile: PromptProfile = plan.viewOptions.profile;
    const metrics = rolloutMetrics(rollouts, reply.result, reply.tensors.log_ratio, profile);
    const ended = performance.now();
    io.logMetrics(step + 1, { ...metrics, lr, step_seconds: (ended - started) / 1000, ...stepTiming(started, sampled, scored, ended) });
    io.logLedger(rolloutLedgerRows(plan.stage, step + 1, plan.overlap ? Math.max(0, step - 1) : step, rollouts, reply.tensors.log_ratio));
    io.progress(step + 1, { kl: metrics.kl ?? metrics.log_ratio_mean ?? 'n/a', reward: metrics.reward_success ?? 'n/a' });
    await finishStep(step + 1, total, plan.checkpointEvery, plan.validation, checkpoint);
  }
  return { stepsDone: total, interrupted: false };
}

/**
 * Where a step's wall time went, in the order the loop waits: for the rollouts, then for the
 * teacher's scores, then for the student's update round trip. With overlap the student samples the
 * next step meanwhile, so the teacher's wait overlaps that sampling and the update queues behind it.
 */
function stepTiming(started: number, sampled: number, scored: number, ended: number): Record<string, number> {
  return {
    wait_rollouts_seconds: (sampled - started) / 1000,
    wait_teacher_seconds: (scored - sampled) / 1000,
    update_seconds: (ended - scored) / 1000,
  };
}

/**
 * Marks a promise that may be abandoned (when an earlier await throws) as handled, and returns it
 * unchanged: whoever awaits it still gets its rejection; nobody awaiting it is not a crash.
 */
export function prefetch<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

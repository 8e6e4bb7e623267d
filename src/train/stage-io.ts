/**
 * What a training loop needs from the experiment around it, and nothing more: progress, the
 * append-only logs, the stop flag (Ctrl-C) and checkpointing. The experiment layer implements it;
 * loops stay free of files and processes.
 */
import { BackendError, TrainingError } from '../errors.js';
import type { ProgressMetrics } from './progress-types.js';

/** The experiment-side services of one stage. */
export interface StageIo {
  /** Report `stepsDone` of the stage's total, with key metrics. */
  progress(stepsDone: number, metrics: ProgressMetrics): void;
  /** Append one metrics record (`step` = steps done after this update). */
  logMetrics(step: number, values: Record<string, number | string | null>): void;
  /** Append rollout ledger rows. */
  logLedger(rows: readonly object[]): void;
  /** True once the user asked to stop: finish the current step, checkpoint, return. */
  shouldStop(): boolean;
  /** Make the state after `stepsDone` steps durable (weights, optimizer, loop state). */
  checkpoint(stepsDone: number, state: Record<string, unknown>): Promise<void>;
}

/** How a stage loop ended. */
export interface StageOutcome {
  stepsDone: number;
  interrupted: boolean;
}

/** True when a checkpoint is due after `stepsDone` steps. */
export function isCheckpointDue(stepsDone: number, every: number, total: number): boolean {
  return stepsDone === total || stepsDone % every === 0;
}

/**
 * Turns a worker's non-finite-loss reply into a `TrainingError` that names the stage and step and
 * says what survived; other errors pass through unchanged.
 */
export function explainStepFailure(error: unknown, stage: string, step: number, lastCheckpoint: number): unknown {
  if (error instanceof BackendError && error.code === 'non_finite') {
    return new TrainingError('non_finite', `${stage} step ${step + 1}: the loss or gradient became NaN/inf; the stage stopped`, {
      cause: error,
      hint: `The last good checkpoint (after ${lastCheckpoint} steps) is kept. A resumed run keeps its config: to change stages.${stage}.lr or gradClip, start a new run (mgsd run --out <new dir> --set stages.${stage}.lr=<smaller>).`,
      context: { stage, step: step + 1 },
    });
  }
  return error;
}

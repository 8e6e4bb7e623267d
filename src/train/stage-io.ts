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

/**
 * Validation of a training stage (every trained model gets the same one, `eval.validation`): after
 * every `every` steps and after the last, `validate` scores the current weights on the validation
 * split and says whether they are the best so far; the loop then checkpoints and calls `markBest`.
 */
export interface ValidationHook {
  every: number;
  /** Runs validation after `stepsDone` steps; true when it is the best score so far. */
  validate(stepsDone: number): Promise<boolean>;
  /** Marks the checkpoint just written as the best one. */
  markBest(): void;
}

/**
 * The end of one step of any training loop: validation when due, then a checkpoint when one is due
 * or the weights are the best so far (so the best weights are always on disk), then the best mark.
 * Returns true when a checkpoint was written.
 */
export async function finishStep(
  stepsDone: number,
  total: number,
  checkpointEvery: number,
  validation: ValidationHook | null,
  checkpoint: (stepsDone: number) => Promise<void>,
): Promise<boolean> {
  const isValidation = validation !== null && (stepsDone % validation.every === 0 || stepsDone === total);
  const isBest = isValidation && (await validation.validate(stepsDone));
  const isDue = isBest || isCheckpointDue(stepsDone, checkpointEvery, total);
  if (isDue) await checkpoint(stepsDone);
  if (isBest) validation.markBest();
  return isDue;
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

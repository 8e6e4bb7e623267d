/**
 * One protocol for every trained model of the table (OPSD's `mgsd`, `visual-sft`, `grpo`):
 * - the same validation (`eval.validation`: split, decoding, cadence), logged in each stage's
 *   metrics as `kind: "validation"` lines — the validation curve;
 * - the same checkpoint-selection rule (`eval.selection`): the best validation macro success (ties
 *   keep the earlier step) or the last step; the chosen step is recorded in the run state, the
 *   stage cache, `results.json` and the report;
 * - budgets (`budgets.ts`): a baseline with `steps: null` sees at least as many training samples
 *   as OPSD, and the preflight warns, naming the keys, when a config gives a baseline fewer.
 *
 * Invariant (exact resume): a validation's seed depends only on the config seed and the step, the
 * best score so far is read back from the stage's `best.json` (or, when a stop fell between a best
 * checkpoint and its mark, from the resumed checkpoint's own validation line), and the chosen step
 * is read from the checkpoint pointers, so a resumed stage selects the same checkpoint as an
 * uninterrupted one.
 */

import { evaluateRecords } from '../eval/benchmark.js';
import type { ModelSelection } from '../eval/results.js';
import { validationCurve } from '../eval/validation-curve.js';
import type { ValidationHook } from '../train/stage-io.js';
import type { PipelineContext } from './context.js';
import { evalContext, type ModelHandle } from './evaluations.js';
import type { FinishedStage, StageSelection } from './run-state.js';
import type { StageRuntime } from './stage-runtime.js';
import { MODEL_STAGES, type ModelName, STAGE } from '../names.js';

/** The stages whose checkpoint is chosen by `eval.selection` (the other stages keep their last). */
export const SELECTED_STAGES: readonly string[] = [STAGE.opsd, STAGE.visualSft, STAGE.grpo];

/**
 * The validation hook of `stage` for `model` (loaded in its worker under its training role): scores
 * the validation split with `eval.validation`'s decoding, appends the curve point to the stage's
 * metrics, and (under `best-val`) says whether it beats every earlier point.
 */
export function stageValidation(context: PipelineContext, stage: string, runtime: StageRuntime, model: ModelHandle): ValidationHook {
  const { config } = context;
  const validation = config.eval.validation;
  const decoding = evalContext(context.evaluation, model);
  let bestScore = runtime.checkpoints.best()?.score ?? -Infinity;
  // A stop between a best checkpoint and its best mark leaves best.json one step behind; the
  // checkpoint's logs hold that step's validation, so the mark is redone here (exact resume).
  const resumed = runtime.resumed;
  const atResume = resumed === null ? undefined : validationCurve(context.services.run.metrics(stage), stage).find((p) => p.step === resumed.stepsDone);
  if (config.eval.selection === 'best-val' && resumed !== null && atResume !== undefined && atResume.macro > bestScore) {
    bestScore = atResume.macro;
    runtime.checkpoints.markBest(resumed, bestScore);
  }
  return {
    every: validation.every,
    validate: async (stepsDone) => {
      const { summary } = await evaluateRecords(context.splits.val, 'student', {
        ...decoding,
        temperature: validation.temperature,
        topP: validation.topP,
        maxNewTokens: validation.maxNewTokens,
        seed: config.seed + stepsDone,
      });
      const score = summary.macro.success;
      const perTask = Object.fromEntries(summary.tasks.map((task) => [`val_${task.task}`, task.levelBalanced.success]));
      runtime.logs.metrics.append([{ stage, step: stepsDone, kind: 'validation', val_macro_success: score, ...perTask }]);
      if (config.eval.selection !== 'best-val' || score <= bestScore) return false;
      bestScore = score;
      return true;
    },
    markBest: () => runtime.checkpoints.markBest(runtime.checkpoints.latest()!, bestScore),
  };
}

/**
 * The finished stage under `eval.selection`: the best-validated checkpoint (`best-val`; the last one
 * when no validation ran) or the last; with the chosen step and its validation score.
 */
export function selectedStage(context: PipelineContext, stage: string, runtime: StageRuntime, stepsDone: number): FinishedStage {
  const rule = context.config.eval.selection;
  const chosen = (rule === 'best-val' ? runtime.checkpoints.best() : null) ?? runtime.checkpoints.latest()!;
  const curve = validationCurve(context.services.run.metrics(stage), stage);
  const point = curve.find((p) => p.step === chosen.stepsDone);
  const selected: StageSelection = { rule, step: chosen.stepsDone, valSuccess: point?.macro ?? null };
  return { stepsDone, checkpoint: chosen.dir, selected };
}

/** The selection of every model whose stage recorded one, by model name. */
export function selectionsOf(finished: Readonly<Record<string, FinishedStage>>): Record<string, ModelSelection> {
  const out: Record<string, ModelSelection> = {};
  for (const [model, stage] of Object.entries(MODEL_STAGES) as Array<[ModelName, string]>) {
    const done = finished[stage];
    if (done?.selected === undefined) continue;
    out[model] = { rule: done.selected.rule, step: done.selected.step, steps: done.stepsDone, val_success: done.selected.valSuccess };
  }
  return out;
}

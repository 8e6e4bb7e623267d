/**
 * One protocol for every trained model of the table (OPSD's `mgsd`, `visual-sft`, `grpo`):
 * - the same validation (`eval.validation`: split, decoding, cadence), logged in each stage's
 *   metrics as `kind: "validation"` lines — the validation curve;
 * - the same checkpoint-selection rule (`eval.selection`): the best validation macro success (ties
 *   keep the earlier step) or the last step; the chosen step is recorded in the run state, the
 *   stage cache, `results.json` and the report;
 * - budgets: a baseline with `steps: null` sees at least as many training samples as OPSD, and the
 *   preflight warns, naming the keys, when a config gives a baseline fewer.
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
import type { ExperimentConfig } from './config.js';
import type { PipelineContext } from './context.js';
import { evalContext, type ModelHandle } from './evaluations.js';
import type { FinishedStage, StageSelection } from './run-state.js';
import type { StageRuntime } from './stage-runtime.js';
import { MODEL_STAGES, type ModelName, STAGE } from '../names.js';

/** The stages whose checkpoint is chosen by `eval.selection` (the other stages keep their last). */
export const SELECTED_STAGES: readonly string[] = [STAGE.opsd, STAGE.visualSft, STAGE.grpo];

/** The baselines that train, by config section. */
export type BaselineSection = 'visualSft' | 'grpo';

/** Training samples (steps × batch) OPSD sees. */
export function opsdSamples(config: ExperimentConfig): number {
  return config.stages.opsd.steps * config.stages.opsd.batchSize;
}

/**
 * A baseline's optimizer steps: its own `steps`, or (null) the fewest steps that show it at least as
 * many training samples as OPSD sees — ceil(opsd.steps × opsd.batchSize / batchSize).
 */
export function baselineSteps(config: ExperimentConfig, section: BaselineSection): number {
  const settings = config.baselines[section];
  return settings.steps ?? Math.ceil(opsdSamples(config) / settings.batchSize);
}

/**
 * One line per enabled baseline that sees fewer training samples than OPSD (a tilted comparison),
 * naming the keys to change; empty when the budgets are fair or OPSD is off.
 */
export function budgetWarnings(config: ExperimentConfig): string[] {
  if (!config.stages.opsd.enabled) return [];
  const target = opsdSamples(config);
  const lines: string[] = [];
  for (const section of ['visualSft', 'grpo'] as const) {
    const settings = config.baselines[section];
    if (!settings.enabled) continue;
    const steps = baselineSteps(config, section);
    const samples = steps * settings.batchSize;
    if (samples >= target) continue;
    const needed = Math.ceil(target / settings.batchSize);
    lines.push(
      `[preflight] warning: baselines.${section} sees ${samples} training samples (steps ${steps} × batchSize ${settings.batchSize}) but OPSD sees ${target} ` +
        `(stages.opsd.steps ${config.stages.opsd.steps} × stages.opsd.batchSize ${config.stages.opsd.batchSize}): the comparison favours OPSD. ` +
        `Set baselines.${section}.steps=null (or ≥ ${needed}) for an equal budget.`,
    );
  }
  return lines;
}

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

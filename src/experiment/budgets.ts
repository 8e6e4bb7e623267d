/**
 * Equal training budgets for every trained model: a baseline with `steps: null` sees at least as
 * many training samples (steps × batch) as OPSD, and the preflight warns, naming the keys, when a
 * config gives a baseline fewer.
 */
import type { ExperimentConfig } from './config.js';

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

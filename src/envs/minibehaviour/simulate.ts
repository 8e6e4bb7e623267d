/**
 * Grades any MiniBehaviour plan (episode semantics in `core/episode.ts`, rules in `instance.ts`).
 */
import { runEpisode } from '../core/episode.js';
import type { Action, MiniBehaviourInstance, SimulationResult, SimulationRules } from '../types.js';
import { DEFAULT_SIMULATION_RULES } from '../types.js';
import { miniBehaviourKernel } from './instance.js';
import { analyzeMiniBehaviour } from './solve.js';

/** Runs `actions` and grades them. */
export function simulateMiniBehaviour(
  instance: MiniBehaviourInstance,
  actions: readonly Action[],
  rules: SimulationRules = DEFAULT_SIMULATION_RULES,
): SimulationResult {
  return runEpisode(miniBehaviourKernel(instance), analyzeMiniBehaviour(instance), actions, rules);
}

/**
 * Grades any FrozenLake plan (episode semantics in `core/episode.ts`, rules in `instance.ts`).
 */
import { runEpisode } from '../core/episode.js';
import type { Action, FrozenLakeInstance, SimulationResult, SimulationRules } from '../types.js';
import { DEFAULT_SIMULATION_RULES } from '../types.js';
import { frozenLakeKernel } from './instance.js';
import { analyzeFrozenLake } from './solve.js';

/** Runs `actions` on the map and grades them. */
export function simulateFrozenLake(
  instance: FrozenLakeInstance,
  actions: readonly Action[],
  rules: SimulationRules = DEFAULT_SIMULATION_RULES,
): SimulationResult {
  return runEpisode(frozenLakeKernel(instance), analyzeFrozenLake(instance), actions, rules);
}

/**
 * Grades any Maze plan (episode semantics in `core/episode.ts`, rules in `instance.ts`).
 */
import { runEpisode } from '../core/episode.js';
import type { Action, MazeInstance, SimulationResult, SimulationRules } from '../types.js';
import { DEFAULT_SIMULATION_RULES } from '../types.js';
import { mazeKernel } from './instance.js';
import { analyzeMaze } from './solve.js';

/** Runs `actions` in the maze and grades them. */
export function simulateMaze(
  instance: MazeInstance,
  actions: readonly Action[],
  rules: SimulationRules = DEFAULT_SIMULATION_RULES,
): SimulationResult {
  return runEpisode(mazeKernel(instance), analyzeMaze(instance), actions, rules);
}

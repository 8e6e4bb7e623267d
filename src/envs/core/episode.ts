/**
 * Grades a plan by running it through a task's kernel (the same transition function the solver
 * uses; see `bfs.ts`).
 *
 * Semantics (types.ts `SimulationResult`):
 * - an empty plan is `no_answer` at step 0;
 * - the first illegal action ends the episode with its failure kind; `failure.step` is its 0-based
 *   index in the plan and `stepsExecuted` counts the legal actions before it;
 * - reaching a goal state ends the episode with success; trailing actions are ignored and not
 *   counted in `stepsExecuted`;
 * - a plan whose actions are all legal but never reach the goal is `goal_not_reached` at step
 *   `actions.length`;
 * - `progressRate` = the longest prefix of actions each lowering the remaining optimal cost by
 *   exactly one, over the optimal length (an out-of-bounds no-op under `stay` ends the prefix);
 * - `trajectory` lists the cells visited, starting at the start; PICK, DROP and no-ops add nothing.
 */
import type { Action, SimulationResult, SimulationRules } from '../types.js';
import { DEFAULT_SIMULATION_RULES } from '../types.js';
import type { Kernel, KernelAnalysis } from './bfs.js';
import { failureOf } from './bfs.js';

/** Runs `actions` from the kernel's start and grades them against `analysis`. */
export function runEpisode(
  kernel: Kernel,
  analysis: KernelAnalysis,
  actions: readonly Action[],
  rules: SimulationRules = DEFAULT_SIMULATION_RULES,
): SimulationResult {
  let state = kernel.start;
  const startCell = kernel.cellOf(state);
  const trajectory = [startCell];
  let progress = 0;
  let isProgressing = true;
  const finish = (success: boolean, steps: number, failure: SimulationResult['failure']): SimulationResult => ({
    success,
    optimalSuccess: success && steps === analysis.optimalLength,
    stepsExecuted: steps,
    failure,
    progressRate: analysis.optimalLength === 0 ? 1 : progress / analysis.optimalLength,
    trajectory,
  });
  if (actions.length === 0) return finish(false, 0, { kind: 'no_answer', step: 0 });
  for (let i = 0; i < actions.length; i += 1) {
    const next = kernel.step(state, actions[i]!, rules);
    if (next < 0) return finish(false, i, { kind: failureOf(next), step: i });
    if (isProgressing && analysis.costToGoal[next] === analysis.costToGoal[state]! - 1) progress += 1;
    else isProgressing = false;
    const previous = trajectory[trajectory.length - 1]!;
    const cell = kernel.cellOf(next);
    if (cell.row !== previous.row || cell.col !== previous.col) trajectory.push(cell);
    state = next;
    if (kernel.isGoal(state)) return finish(true, i + 1, null);
  }
  return finish(false, actions.length, { kind: 'goal_not_reached', step: actions.length });
}

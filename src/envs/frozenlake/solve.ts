/**
 * Exact FrozenLake solver: BFS over cells that are not holes (see `core/bfs.ts` for the optimal
 * plan count and the canonical L, D, R, U tie-break).
 */
import type { KernelAnalysis } from '../core/bfs.js';
import { analyzeOrThrow, solveOrThrow } from '../core/solution.js';
import type { FrozenLakeInstance, Solution } from '../types.js';
import { frozenLakeKernel } from './instance.js';

const describe = (instance: FrozenLakeInstance) => (): string => `map ${instance.rows.join('/')}`;

/** The full BFS analysis (remaining cost per cell included); throws `EnvError` if unsolvable. */
export function analyzeFrozenLake(instance: FrozenLakeInstance): KernelAnalysis {
  return analyzeOrThrow('frozenlake', instance.level, frozenLakeKernel(instance), describe(instance));
}

/** Optimal length, number of optimal plans and the canonical plan. */
export function solveFrozenLake(instance: FrozenLakeInstance): Solution {
  return solveOrThrow('frozenlake', instance.level, frozenLakeKernel(instance), describe(instance));
}

/**
 * Exact Maze solver: BFS through open sides (a perfect maze has one shortest path; imported mazes
 * with loops are counted exactly all the same).
 */
import type { KernelAnalysis } from '../core/bfs.js';
import { analyzeOrThrow, solveOrThrow } from '../core/solution.js';
import type { MazeInstance, Solution } from '../types.js';
import { mazeKernel } from './instance.js';

const describe =
  ({ start, goal }: MazeInstance) =>
  (): string =>
    `start (${start.row},${start.col}), goal (${goal.row},${goal.col})`;

/** The full BFS analysis; throws `EnvError` if the goal is unreachable. */
export function analyzeMaze(instance: MazeInstance): KernelAnalysis {
  return analyzeOrThrow('maze', instance.level, mazeKernel(instance), describe(instance));
}

/** Optimal length, number of optimal plans and the canonical plan. */
export function solveMaze(instance: MazeInstance): Solution {
  return solveOrThrow('maze', instance.level, mazeKernel(instance), describe(instance));
}

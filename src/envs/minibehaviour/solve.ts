/**
 * Exact MiniBehaviour solver: BFS over (cell, carrying) states plus the terminal dropped state.
 * Equals the official formula min over printer neighbours p and table neighbours t of
 * d(start→p | table and printer blocked) + 1 + d(p→t | table blocked) + 1 (checked in tests).
 */
import type { KernelAnalysis } from '../core/bfs.js';
import { analyzeOrThrow, solveOrThrow } from '../core/solution.js';
import type { MiniBehaviourInstance, Solution } from '../types.js';
import { miniBehaviourKernel } from './instance.js';

const describe =
  ({ start, printer, tableTopLeft: t }: MiniBehaviourInstance) =>
  (): string =>
    `start (${start.row},${start.col}), printer (${printer.row},${printer.col}), table at (${t.row},${t.col})`;

/** The full BFS analysis; throws `EnvError` if no plan picks up and drops the printer. */
export function analyzeMiniBehaviour(instance: MiniBehaviourInstance): KernelAnalysis {
  return analyzeOrThrow('minibehaviour', instance.level, miniBehaviourKernel(instance), describe(instance));
}

/** Optimal length (PICK and DROP counted), number of optimal plans and the canonical plan. */
export function solveMiniBehaviour(instance: MiniBehaviourInstance): Solution {
  return solveOrThrow('minibehaviour', instance.level, miniBehaviourKernel(instance), describe(instance));
}

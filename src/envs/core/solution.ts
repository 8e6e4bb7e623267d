/**
 * Turns a kernel analysis into the public `Solution`, or the typed error for an unsolvable instance.
 */
import { EnvError } from '../../errors.js';
import type { EnvName, Solution } from '../types.js';
import type { Kernel, KernelAnalysis } from './bfs.js';
import { analyzeKernel, solveKernel } from './bfs.js';
import { ENV_ERROR_CODES } from './checks.js';

/** Analyzes `kernel`; throws `EnvError` naming the instance (`describe()`) when no plan reaches the goal. */
export function analyzeOrThrow(task: EnvName, level: number, kernel: Kernel, describe: () => string): KernelAnalysis {
  const analysis = analyzeKernel(kernel);
  if (analysis === null) {
    throw new EnvError(ENV_ERROR_CODES.unsolvable, `${task} level ${level}: no action plan reaches the goal (${describe()}).`, {
      hint: 'The instance is unsolvable; drop it from the data set or fix the importer that produced it.',
      context: { task, level },
    });
  }
  return analysis;
}

/** Solves `kernel` (no remaining-cost map: faster); throws like `analyzeOrThrow`. */
export function solveOrThrow(task: EnvName, level: number, kernel: Kernel, describe: () => string): Solution {
  const solution = solveKernel(kernel);
  if (solution === null) return toSolution(analyzeOrThrow(task, level, kernel, describe)); // throws
  return solution;
}

/** The public part of an analysis. */
export function toSolution(analysis: KernelAnalysis): Solution {
  return { optimalLength: analysis.optimalLength, numOptimalPlans: analysis.numOptimalPlans, plan: analysis.plan };
}

/**
 * Power of a comparison: the smallest all-task macro difference between two models that a
 * two-sided test at α = 0.05 detects with 80 % power, given the test puzzles per task and level and
 * the number of training seeds.
 *
 * The macro is the mean over T tasks of each task's mean over its L_t levels, so a cell (task,
 * level) of n puzzles carries weight w = 1 / (T·L_t). One seed's macro difference between two
 * models has variance Σ w²·v / n, where v is the per-puzzle variance of the difference of two
 * success indicators: 2·p(1−p) ≤ 0.5 for independent test sets (or unrelated models), and about the
 * discordance rate (the share of puzzles exactly one model solves) when both models answer the
 * same puzzles (paired). Averaging S seeds divides it by S. Then
 *
 *   MDD = (z₀.₉₇₅ + z₀.₈₀) · √(Σ w²·v / n  ÷  S).
 *
 * It counts the test-set sampling only: training-seed variation adds to it (the seeds' spread in
 * the comparison shows how much).
 */

/** z quantiles of the standard normal: two-sided α = 0.05 and power 0.80. */
export const Z_ALPHA_TWO_SIDED_05 = 1.959964;
export const Z_POWER_80 = 0.841621;
/** The largest per-puzzle variance of a difference of two independent success indicators (p = ½ each). */
export const WORST_CASE_VARIANCE = 0.5;

/** One (task, level) cell of the test split. */
export interface PowerCell {
  task: string;
  level: number;
  n: number;
}

/** Σ w²/n over the cells: one seed's macro variance per unit of per-puzzle variance. */
export function macroVarianceFactor(cells: readonly PowerCell[]): number {
  const tasks = [...new Set(cells.map((cell) => cell.task))];
  if (tasks.length === 0 || cells.some((cell) => cell.n <= 0)) throw new RangeError('power: every cell needs at least one test puzzle');
  let factor = 0;
  for (const task of tasks) {
    const ofTask = cells.filter((cell) => cell.task === task);
    for (const cell of ofTask) factor += (1 / (tasks.length * ofTask.length)) ** 2 / cell.n;
  }
  return factor;
}

/** The minimum detectable macro difference (a fraction: 0.05 = 5 points) at α 0.05 and 80 % power. */
export function minimumDetectableDifference(cells: readonly PowerCell[], seeds: number, perPuzzleVariance: number): number {
  if (seeds < 1) throw new RangeError('power: at least one seed');
  return (Z_ALPHA_TWO_SIDED_05 + Z_POWER_80) * Math.sqrt((macroVarianceFactor(cells) * perPuzzleVariance) / seeds);
}

/** What a comparison states about its power. */
export interface PowerStatement {
  alpha: number;
  power: number;
  seeds: number;
  cells: PowerCell[];
  /** MDD for independent models at 50 % success (the largest variance): a bound for any pair. */
  mdd_worst_case: number;
  method: string;
}

/** The power statement of a comparison whose reference has `cells` and `seeds` seeds. */
export function powerStatement(cells: readonly PowerCell[], seeds: number): PowerStatement {
  return {
    alpha: 0.05,
    power: 0.8,
    seeds,
    cells: [...cells],
    mdd_worst_case: minimumDetectableDifference(cells, seeds, WORST_CASE_VARIANCE),
    method:
      'MDD = (z0.975 + z0.80)·sqrt(Σ w²·v/n ÷ seeds), w = 1/(tasks·levels of the task); worst case v = 0.5 (independent models at 50 %); ' +
      'paired rows: v = their discordance rate on the shared puzzles. Test-set sampling only (training-seed spread adds to it).',
  };
}

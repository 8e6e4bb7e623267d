/**
 * Aggregating graded plans into the paper's table: pure functions, no I/O.
 *
 * Per task and level: n, success, optimal success, parse rate and the rate of each failure kind,
 * each with a 95 % Wilson score interval. Per task: the level-balanced mean (the mean of the
 * per-level rates, as the official `task_macro_avg_by_level`) and the sample mean (pooled over all
 * samples, with its interval). Over tasks: the macro average = the mean of the tasks'
 * LEVEL-BALANCED means, each task weighing the same (the official `all_tasks_macro_avg`, MGSD's
 * headline number). Rates are fractions in [0, 1].
 */
import { ENV_NAMES, type EnvName, type FailureKind } from '../envs/types.js';
import type { GradedSample } from '../rollout/grade.js';

export type { GradedSample };


/** A proportion with its 95 % Wilson score interval. */
export interface Rate {
  count: number;
  n: number;
  rate: number;
  low: number;
  high: number;
}

/** The three headline rates as plain numbers (means of rates have no single n). */
export interface MeanRates {
  success: number;
  optimalSuccess: number;
  parsed: number;
}

/** The metrics of one task at one level. */
export interface LevelMetrics {
  task: EnvName;
  level: number;
  n: number;
  success: Rate;
  optimalSuccess: Rate;
  parsed: Rate;
  /** Rate of each failure kind seen at this level (kinds in alphabetical order). */
  failures: Partial<Record<FailureKind, Rate>>;
}

/** The metrics of one task: per level and its two means. */
export interface TaskMetrics {
  task: EnvName;
  n: number;
  /** Levels in ascending order. */
  levels: LevelMetrics[];
  /** Mean over levels of the per-level rates (each level weighs the same). */
  levelBalanced: MeanRates;
  /** Pooled over every sample of the task. */
  sampleMean: { success: Rate; optimalSuccess: Rate; parsed: Rate };
}

/** Every task's metrics and the all-task macro average. */
export interface MetricsSummary {
  n: number;
  /** Tasks with at least one sample, in `ENV_NAMES` order. */
  tasks: TaskMetrics[];
  /** Mean over tasks of each task's level-balanced mean (MGSD's headline aggregation). */
  macro: MeanRates & { perTaskMean: 'level-balanced' };
}

/** z for a two-sided 95 % interval. */
export const Z_95 = 1.959963984540054;

/** The Wilson score interval of `count` successes in `n` trials (n = 0 gives [0, 1]). */
export function wilsonInterval(count: number, n: number, z = Z_95): [number, number] {
  if (n === 0) return [0, 1];
  const p = count / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** `count` of `n` as a `Rate` (rate NaN when n = 0). */
export function rateOf(count: number, n: number): Rate {
  const [low, high] = wilsonInterval(count, n);
  return { count, n, rate: n === 0 ? Number.NaN : count / n, low, high };
}

/** Per-level metrics of samples that all share one task and level. */
export function levelMetrics(task: EnvName, level: number, samples: readonly GradedSample[]): LevelMetrics {
  const n = samples.length;
  const count = (predicate: (sample: GradedSample) => boolean): number => samples.filter(predicate).length;
  const kinds = [...new Set(samples.flatMap((sample) => (sample.failure === null ? [] : [sample.failure])))].sort();
  const failures: Partial<Record<FailureKind, Rate>> = {};
  for (const kind of kinds) failures[kind] = rateOf(count((sample) => sample.failure === kind), n);
  return {
    task,
    level,
    n,
    success: rateOf(count((sample) => sample.success), n),
    optimalSuccess: rateOf(count((sample) => sample.optimalSuccess), n),
    parsed: rateOf(count((sample) => sample.parsed), n),
    failures,
  };
}

/** Per-task metrics: its levels, their level-balanced mean, and the pooled sample mean. */
export function taskMetrics(task: EnvName, samples: readonly GradedSample[]): TaskMetrics {
  const levels = [...new Set(samples.map((sample) => sample.level))]
    .sort((a, b) => a - b)
    .map((level) => levelMetrics(task, level, samples.filter((sample) => sample.level === level)));
  const n = samples.length;
  const pooled = (pick: (level: LevelMetrics) => Rate): Rate => rateOf(sum(levels.map((level) => pick(level).count)), n);
  return {
    task,
    n,
    levels,
    levelBalanced: {
      success: mean(levels.map((level) => level.success.rate)),
      optimalSuccess: mean(levels.map((level) => level.optimalSuccess.rate)),
      parsed: mean(levels.map((level) => level.parsed.rate)),
    },
    sampleMean: {
      success: pooled((level) => level.success),
      optimalSuccess: pooled((level) => level.optimalSuccess),
      parsed: pooled((level) => level.parsed),
    },
  };
}

/** The whole table: every task with samples, and the all-task macro average. */
export function summarizeMetrics(samples: readonly GradedSample[]): MetricsSummary {
  const tasks = ENV_NAMES.flatMap((task) => {
    const ofTask = samples.filter((sample) => sample.task === task);
    return ofTask.length === 0 ? [] : [taskMetrics(task, ofTask)];
  });
  return {
    n: samples.length,
    tasks,
    macro: {
      perTaskMean: 'level-balanced',
      success: mean(tasks.map((task) => task.levelBalanced.success)),
      optimalSuccess: mean(tasks.map((task) => task.levelBalanced.optimalSuccess)),
      parsed: mean(tasks.map((task) => task.levelBalanced.parsed)),
    },
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** Arithmetic mean; NaN for an empty list (no samples means no number, never 0). */
function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : sum(values) / values.length;
}

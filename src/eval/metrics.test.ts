import { describe, expect, it } from 'vitest';

import type { FailureKind } from '../envs/types.js';
import { type GradedSample, levelMetrics, rateOf, summarizeMetrics, taskMetrics, wilsonInterval } from './metrics.js';

function sample(task: GradedSample['task'], level: number, outcome: 'optimal' | 'success' | FailureKind): GradedSample {
  const success = outcome === 'optimal' || outcome === 'success';
  return {
    task,
    level,
    parsed: outcome !== 'no_answer',
    success,
    optimalSuccess: outcome === 'optimal',
    failure: success ? null : (outcome as FailureKind),
  };
}

function many(count: number, make: () => GradedSample): GradedSample[] {
  return Array.from({ length: count }, make);
}

describe('wilsonInterval', () => {
  it('matches the hand-computed interval for 8 of 10', () => {
    // p = 0.8, z² = 3.8415, center = (0.8 + 0.19208) / 1.38415 = 0.71674,
    // half = 1.95996 / 1.38415 · sqrt(0.016 + 0.0096039) = 0.22656 → [0.49018, 0.94330]
    const [low, high] = wilsonInterval(8, 10);
    expect(low).toBeCloseTo(0.49016, 4);
    expect(high).toBeCloseTo(0.94332, 4);
  });

  it('stays inside [0, 1] at the extremes and is not degenerate', () => {
    const [low0, high0] = wilsonInterval(0, 20);
    expect(low0).toBe(0);
    // z² / (n + z²) = 3.8415 / 23.8415
    expect(high0).toBeCloseTo(0.16113, 4);
    const [low1, high1] = wilsonInterval(20, 20);
    expect(high1).toBe(1);
    expect(low1).toBeCloseTo(1 - 0.16113, 4);
  });

  it('gives [0, 1] and a NaN rate when there is no sample', () => {
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
    expect(Number.isNaN(rateOf(0, 0).rate)).toBe(true);
  });
});

describe('levelMetrics', () => {
  it('counts success, optimal success, parse rate and each failure kind', () => {
    const samples = [
      ...many(2, () => sample('frozenlake', 3, 'optimal')),
      sample('frozenlake', 3, 'success'),
      sample('frozenlake', 3, 'fell_into_hole'),
      sample('frozenlake', 3, 'no_answer'),
    ];
    const metrics = levelMetrics('frozenlake', 3, samples);
    expect(metrics.n).toBe(5);
    expect(metrics.success).toMatchObject({ count: 3, n: 5, rate: 0.6 });
    expect(metrics.optimalSuccess).toMatchObject({ count: 2, rate: 0.4 });
    expect(metrics.parsed).toMatchObject({ count: 4, rate: 0.8 });
    expect(Object.keys(metrics.failures)).toEqual(['fell_into_hole', 'no_answer']);
    expect(metrics.failures.fell_into_hole).toMatchObject({ count: 1, rate: 0.2 });
  });
});

describe('taskMetrics and summarizeMetrics', () => {
  // frozenlake: L3 9/10 success, L4 1/2 → level-balanced 0.7, pooled 10/12.
  // maze: L3 1/4 success → 0.25. Macro over the two tasks' level-balanced means = 0.475.
  const samples = [
    ...many(9, () => sample('frozenlake', 3, 'optimal')),
    sample('frozenlake', 3, 'out_of_bounds'),
    sample('frozenlake', 4, 'success'),
    sample('frozenlake', 4, 'goal_not_reached'),
    sample('maze', 3, 'optimal'),
    ...many(3, () => sample('maze', 3, 'crossed_wall')),
  ];

  it('balances levels within a task and pools samples separately', () => {
    const metrics = taskMetrics('frozenlake', samples.filter((s) => s.task === 'frozenlake'));
    expect(metrics.levels.map((level) => level.level)).toEqual([3, 4]);
    expect(metrics.levelBalanced.success).toBeCloseTo(0.7, 12);
    expect(metrics.levelBalanced.optimalSuccess).toBeCloseTo(0.45, 12);
    expect(metrics.sampleMean.success).toMatchObject({ count: 10, n: 12 });
    expect(metrics.sampleMean.success.rate).toBeCloseTo(10 / 12, 12);
  });

  it('averages the tasks level-balanced means with equal task weight', () => {
    const summary = summarizeMetrics(samples);
    expect(summary.n).toBe(16);
    expect(summary.tasks.map((task) => task.task)).toEqual(['frozenlake', 'maze']);
    expect(summary.macro.perTaskMean).toBe('level-balanced');
    expect(summary.macro.success).toBeCloseTo((0.7 + 0.25) / 2, 12);
    expect(summary.macro.optimalSuccess).toBeCloseTo((0.45 + 0.25) / 2, 12);
    expect(summary.macro.parsed).toBe(1);
  });

  it('reports NaN, not 0, when there is nothing to average', () => {
    const summary = summarizeMetrics([]);
    expect(summary.tasks).toEqual([]);
    expect(Number.isNaN(summary.macro.success)).toBe(true);
  });
});

/**
 * The power computation of power.ts on the tiny preset's test split (FrozenLake 3–4, Maze 3,
 * MiniBehaviour 5; 500 puzzles per level), checked against the numbers in docs/tiny-preset.md.
 */
import { describe, expect, it } from 'vitest';

import { macroVarianceFactor, minimumDetectableDifference, powerStatement } from './power.js';

const PRESET = [
  { task: 'frozenlake', level: 3, n: 500 },
  { task: 'frozenlake', level: 4, n: 500 },
  { task: 'maze', level: 3, n: 500 },
  { task: 'minibehaviour', level: 5, n: 500 },
];

describe('minimum detectable macro difference', () => {
  it('weights each level by 1 / (tasks × levels of its task)', () => {
    // 2·(1/6)²/500 + 2·(1/3)²/500
    expect(macroVarianceFactor(PRESET)).toBeCloseTo((2 / 36 + 2 / 9) / 500, 12);
  });

  it('gives the preset numbers of docs/tiny-preset.md', () => {
    expect(minimumDetectableDifference(PRESET, 1, 0.5)).toBeCloseTo(0.0467, 4);
    expect(minimumDetectableDifference(PRESET, 3, 0.5)).toBeCloseTo(0.027, 3);
    expect(minimumDetectableDifference(PRESET, 1, 0.3)).toBeCloseTo(0.0362, 4);
    // The former 100 puzzles per level: a 5-point difference was out of reach with one seed.
    const small = PRESET.map((cell) => ({ ...cell, n: 100 }));
    expect(minimumDetectableDifference(small, 1, 0.5)).toBeGreaterThan(0.1);
  });

  it('falls as 1/√seeds and refuses empty cells', () => {
    const one = minimumDetectableDifference(PRESET, 1, 0.5);
    expect(minimumDetectableDifference(PRESET, 4, 0.5)).toBeCloseTo(one / 2, 10);
    expect(() => minimumDetectableDifference([{ task: 'maze', level: 3, n: 0 }], 1, 0.5)).toThrow(RangeError);
    expect(powerStatement(PRESET, 3).mdd_worst_case).toBeCloseTo(minimumDetectableDifference(PRESET, 3, 0.5), 12);
  });
});

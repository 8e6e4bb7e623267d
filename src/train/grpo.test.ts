import { describe, expect, it } from 'vitest';

import { groupAdvantages } from './grpo.js';

const grades = (successes: boolean[]) => ({ grades: successes.map((success) => ({ success })) }) as never;

describe('groupAdvantages', () => {
  it('standardises rewards within each group', () => {
    const advantages = groupAdvantages(grades([true, false, false, false, true, true, false, false]), 4);
    expect(Array.from(advantages.slice(0, 4))).toEqual([Math.sqrt(3), -1 / Math.sqrt(3), -1 / Math.sqrt(3), -1 / Math.sqrt(3)].map(Math.fround));
    expect(advantages[4]).toBeCloseTo(1);
    expect(advantages[6]).toBeCloseTo(-1);
  });

  it('gives zero advantage to a group whose rewards are all equal', () => {
    expect(Array.from(groupAdvantages(grades([true, true, false, false]), 2))).toEqual([0, 0, 0, 0]);
  });
});

import { describe, expect, it } from 'vitest';

import { learningRateAt, type LrSchedule } from './schedule.js';

const cosine: LrSchedule = { lr: 1e-3, schedule: 'cosine', warmupSteps: 10, minLrRatio: 0.1, totalSteps: 110 };

describe('learningRateAt', () => {
  it('warms up linearly to the peak', () => {
    expect(learningRateAt(cosine, 0)).toBeCloseTo(1e-4);
    expect(learningRateAt(cosine, 9)).toBeCloseTo(1e-3);
  });

  it('anneals the cosine to the floor at the last step', () => {
    expect(learningRateAt(cosine, 10)).toBeCloseTo(1e-3);
    expect(learningRateAt(cosine, 60)).toBeCloseTo(1e-4 + 0.5 * 9e-4);
    expect(learningRateAt(cosine, 110)).toBeCloseTo(1e-4);
    expect(learningRateAt(cosine, 500)).toBeCloseTo(1e-4);
  });

  it('keeps a constant schedule flat after warm-up', () => {
    const constant: LrSchedule = { ...cosine, schedule: 'constant', warmupSteps: 0 };
    expect([0, 50, 109].map((step) => learningRateAt(constant, step))).toEqual([1e-3, 1e-3, 1e-3]);
  });
});

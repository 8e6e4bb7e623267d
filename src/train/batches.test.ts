import { describe, expect, it } from 'vitest';

import { BatchSchedule } from './batches.js';

describe('BatchSchedule', () => {
  it('is a pure function of (seed, stage, step)', () => {
    const a = new BatchSchedule(10, 4, 7, 'sft');
    const b = new BatchSchedule(10, 4, 7, 'sft');
    expect([5, 0, 3].map((s) => a.indicesAt(s))).toEqual([5, 0, 3].map((s) => b.indicesAt(s)));
    expect(new BatchSchedule(10, 4, 8, 'sft').indicesAt(0)).not.toEqual(a.indicesAt(0));
  });

  it('visits every record once per epoch, crossing epoch boundaries', () => {
    const schedule = new BatchSchedule(10, 4, 1, 'base');
    const firstEpoch = [0, 1].flatMap((s) => schedule.indicesAt(s)).concat(schedule.indicesAt(2).slice(0, 2));
    expect([...firstEpoch].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    const secondEpoch = schedule.indicesAt(2).slice(2).concat(schedule.indicesAt(3), schedule.indicesAt(4));
    expect([...secondEpoch].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
  });
});

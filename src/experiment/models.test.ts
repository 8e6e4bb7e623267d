import { availableParallelism } from 'node:os';

import { describe, expect, it } from 'vitest';

import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';
import { placementOf, ranksOf } from './models.js';

describe('backend.ranks and the placement', () => {
  it('gives the student and the baselines the configured ranks, the teacher one', () => {
    const { config } = loadConfig('tiny', ['backend.ranks=3']);
    const placement = placementOf(config);
    expect(placement.workers.student).toEqual({ threads: 1, ranks: 3 });
    expect(placement.workers.baseline?.ranks).toBe(3);
    expect(placement.workers.teacher).toEqual({ threads: 1, ranks: 1 });
  });

  it('reads auto as one rank per core (the tiny preset) and keeps one rank by default elsewhere', () => {
    expect(ranksOf(loadConfig('tiny').config)).toBe(availableParallelism());
    expect(ranksOf(loadConfig('qwen3-vl-2b').config)).toBe(1);
  });

  it('refuses a rank count that is neither a positive integer nor auto', () => {
    expect(() => loadConfig('tiny', ['backend.ranks=0'])).toThrow(ConfigError);
    expect(() => loadConfig('tiny', ['backend.ranks=many'])).toThrow(/backend\.ranks/);
  });
});

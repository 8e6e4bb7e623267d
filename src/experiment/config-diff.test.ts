import { describe, expect, it } from 'vitest';

import { changedKeys, mergeValue } from './config-diff.js';
import { loadConfig } from './load.js';

describe('--set merging', () => {
  it('updates the keys a mapping names and keeps the preset\'s others', () => {
    const preset = loadConfig('tiny').config.stages.opsd;
    const { config, changes } = loadConfig('tiny', ['stages.opsd={steps: 50}']);
    expect(config.stages.opsd).toEqual({ ...preset, steps: 50 });
    expect(config.stages.opsd.estimator).toBe('full');
    expect(config.stages.opsd.rollout.temperature).toBe(0.7);
    expect(changes).toEqual([{ key: 'stages.opsd.steps', from: 200, to: 50 }]);
  });

  it('merges nested mappings and replaces lists and scalars', () => {
    expect(mergeValue({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: 9 }, l: [5] })).toEqual({ a: 1, b: { c: 9, d: 3 }, l: [5] });
    expect(mergeValue([1], { a: 1 })).toEqual({ a: 1 });
    expect(mergeValue({ a: 1 }, 3)).toBe(3);
  });

  it('lists every changed leaf, lists compared whole', () => {
    expect(changedKeys({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 1, c: [1, 3] }, d: 'y', e: true })).toEqual([
      { key: 'a.c', from: [1, 2], to: [1, 3] },
      { key: 'd', from: 'x', to: 'y' },
      { key: 'e', from: null, to: true },
    ]);
  });

  it('separates the puzzles\' seed from the training seed', () => {
    const { config, changes } = loadConfig('tiny', ['seed=3']);
    expect(config.seed).toBe(3);
    expect(config.data.seed).toBe(0);
    expect(changes.map((change) => change.key)).toEqual(['seed']);
  });
});

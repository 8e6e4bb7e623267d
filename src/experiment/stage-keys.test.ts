import { describe, expect, it } from 'vitest';

import { loadConfig } from './load.js';
import { evaluationKeyOf, stageKeysOf } from './stage-keys.js';

// The tiny preset with a base stage (it trains its base), so every stage has a key.
const keysOf = (overrides: string[] = [], dataset = 'd0') => {
  const { config } = loadConfig('tiny', ['stages.base.enabled=true', ...overrides]);
  const keys = stageKeysOf(config, dataset);
  return { keys, evaluation: (model: string) => evaluationKeyOf(config, keys, model, ['image', 'text', 'perception']) };
};

describe('stage keys', () => {
  const reference = keysOf();

  it('an OPSD key changes OPSD and the mgsd evaluation only', () => {
    const changed = keysOf(['stages.opsd.estimator=sampled']);
    expect(changed.keys.base).toBe(reference.keys.base);
    expect(changed.keys.sft).toBe(reference.keys.sft);
    expect(changed.keys['visual-sft']).toBe(reference.keys['visual-sft']);
    expect(changed.keys.opsd).not.toBe(reference.keys.opsd);
    expect(changed.evaluation('sft')).toBe(reference.evaluation('sft'));
    expect(changed.evaluation('mgsd')).not.toBe(reference.evaluation('mgsd'));
  });

  it('OPSD steps also change the baselines whose steps follow them', () => {
    const changed = keysOf(['stages.opsd.steps=20']);
    expect(changed.keys.sft).toBe(reference.keys.sft);
    expect(changed.keys['visual-sft']).not.toBe(reference.keys['visual-sft']);
  });

  it('an SFT key changes SFT and everything after it, not the base', () => {
    const changed = keysOf(['stages.sft.lr=0.002']);
    expect(changed.keys.base).toBe(reference.keys.base);
    for (const stage of ['sft', 'opsd', 'visual-sft'] as const) expect(changed.keys[stage]).not.toBe(reference.keys[stage]);
  });

  it('the training seed and the dataset change every stage; run names, timeouts and cache folders none', () => {
    for (const changed of [keysOf(['seed=1']), keysOf([], 'd1')]) {
      for (const stage of ['base', 'sft', 'opsd', 'visual-sft'] as const) expect(changed.keys[stage]).not.toBe(reference.keys[stage]);
    }
    const neutral = keysOf(['name=other', 'backend.requestTimeoutMs=5000', 'reuse.cacheDir=/elsewhere', 'data.cacheDir=/x', 'reportTo=[tensorboard]']);
    expect(neutral.keys).toEqual(reference.keys);
  });

  it('benchmark decoding changes the evaluations, not the trained stages', () => {
    const changed = keysOf(['eval.maxNewTokens=32']);
    expect(changed.keys).toEqual(reference.keys);
    expect(changed.evaluation('base')).not.toBe(reference.evaluation('base'));
  });

  it('the out-of-distribution sets leave every stage and test-split evaluation key alone, and each set has its own key', () => {
    const { config } = loadConfig('tiny', ['stages.base.enabled=true', 'eval.outOfDistribution=[]']);
    const keys = stageKeysOf(config, 'd0');
    expect(keys).toEqual(reference.keys);
    expect(evaluationKeyOf(config, keys, 'sft', ['image', 'text', 'perception'])).toBe(reference.evaluation('sft'));
    const onSet = (datasetKey: string) => evaluationKeyOf(config, keys, 'sft', ['ood-vsp-frozenlake-image'], datasetKey);
    expect(onSet('set-a')).not.toBe(onSet('set-b'));
    expect(onSet('set-a')).not.toBe(evaluationKeyOf(config, keys, 'sft', ['image']));
  });
});

import { describe, expect, it } from 'vitest';

import { ExperimentConfigSchema } from './config.js';
import { halfBf16Ulp, updateRoundingWarnings } from './preflight.js';

const hf = (model: Record<string, unknown>) =>
  ExperimentConfigSchema.parse({
    tasks: { frozenlake: { levels: [3], perLevel: { train: 10, val: 2, test: 2 } } },
    model: { kind: 'hf', path: '/models/qwen', dtype: 'bfloat16', device: 'cuda', ...model },
    stages: { opsd: { lr: 1e-6 }, base: { enabled: false } },
  });

describe('update rounding preflight', () => {
  it('half a bf16 ulp of 0.02 is 2^-14', () => {
    expect(halfBf16Ulp(0.02)).toBe(2 ** -14);
  });

  it('warns for bf16 masters at lr 1e-6 and names the fix', () => {
    const warnings = updateRoundingWarnings(hf({ masterWeights: 'bf16' }));
    expect(warnings.some((w) => w.includes('stages.opsd.lr 0.000001') && w.includes('set model.masterWeights to fp32'))).toBe(true);
  });

  it('stays quiet with fp32 masters (the default) and with float32 weights', () => {
    expect(updateRoundingWarnings(hf({}))).toEqual([]);
    expect(updateRoundingWarnings(hf({ dtype: 'float32', masterWeights: 'bf16' }))).toEqual([]);
  });
});

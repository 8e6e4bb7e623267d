import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ExperimentConfigSchema } from './config.js';
import { checkMemoryPlan, checkShardedBatches, halfBf16Ulp, updateRoundingWarnings } from './preflight.js';

const hf = (model: Record<string, unknown>, backend: Record<string, unknown> = {}) =>
  ExperimentConfigSchema.parse({
    backend: { separateTeacherWorker: false, ...backend },
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

describe('memory plan preflight', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-memplan-'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'qwen3_vl',
      tie_word_embeddings: false,
      text_config: { vocab_size: 151936, hidden_size: 4096, num_hidden_layers: 36, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 128, intermediate_size: 12288 },
      vision_config: { depth: 27, hidden_size: 1152, intermediate_size: 4304, deepstack_visual_indexes: [8, 16, 24] },
    }),
  );

  it('prints the plan from the checkpoint config.json and refuses 8B on one 80 GiB GPU, saying what to change', () => {
    const config = hf({ path: dir, gradientCheckpointing: true }, { gpuMemoryGiB: 80 });
    expect(() => checkMemoryPlan(null, config, 1)).toThrow(/needs about .* GiB per GPU/);
    const lines = checkMemoryPlan(null, hf({ path: dir, gradientCheckpointing: true }, { gpuMemoryGiB: 80, microBatchSize: 1 }), 8);
    expect(lines.join('\n')).toMatch(/total .* GiB of 80 GiB/);
  });

  it('says so when the config.json is not on this machine, and skips CPU runs', () => {
    expect(checkMemoryPlan(null, hf({ path: 'Org/not-cached' }), 1)[0]).toContain('not on this machine');
    expect(checkMemoryPlan(null, hf({ path: dir, device: 'cpu' }), 1)).toEqual([]);
  });
});

describe('sharded batch preflight', () => {
  it('refuses batches that give the ranks of a sharded model unequal passes, naming the keys', () => {
    const config = hf({}, { microBatchSize: 2 });
    config.stages.sft.batchSize = 8;
    config.stages.opsd.batchSize = 10; // 5 + 5 rows at micro 2: 3 passes each; 3, 3, 2, 2 rows: 2, 2, 1, 1
    expect(() => checkShardedBatches(config, 2)).not.toThrow();
    expect(() => checkShardedBatches(config, 4)).toThrow(/stages\.opsd\.batchSize \(10 rows per step\) over backend\.ranks 4/);
    config.backend.microBatchSize = null;
    config.stages.opsd.batchSize = 3; // one pass on each rank of 2: fine; none on the 4th of 4
    expect(() => checkShardedBatches(config, 2)).not.toThrow();
    expect(() => checkShardedBatches(config, 4)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/multiples of 4 \(ranks × backend\.microBatchSize\)/) }));
    expect(() => checkShardedBatches(config, 1)).not.toThrow();
  });
});

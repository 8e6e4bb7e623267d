import { describe, expect, it } from 'vitest';

import { assertFits, type MemoryLayout, parameterCounts, planMemory, type QwenShape, shapeOfConfig } from './memory-plan.js';

/** config.json of the released shapes (shared/reference/qwen3-vl-in-transformers.md). */
function config(text: [number, number, number, number, number], tied: boolean, vision: [number, number, number], deepstack: number[]) {
  const [layers, hidden, heads, kv, ffn] = text;
  const [depth, visionHidden, visionFfn] = vision;
  return {
    tie_word_embeddings: tied,
    text_config: { vocab_size: 151936, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv, head_dim: 128, intermediate_size: ffn },
    vision_config: { depth, hidden_size: visionHidden, intermediate_size: visionFfn, num_position_embeddings: 2304, patch_size: 16, temporal_patch_size: 2, spatial_merge_size: 2, deepstack_visual_indexes: deepstack },
  };
}

const SHAPES: Record<string, QwenShape> = {
  '2b': shapeOfConfig(config([28, 2048, 16, 8, 6144], true, [24, 1024, 4096], [5, 11, 17]), '2b'),
  '4b': shapeOfConfig(config([36, 2560, 32, 8, 9728], true, [24, 1024, 4096], [5, 11, 17]), '4b'),
  '8b': shapeOfConfig(config([36, 4096, 32, 8, 12288], false, [27, 1152, 4304], [8, 16, 24]), '8b'),
};

const GIB = 2 ** 30;

/** The hint of the error `fn` throws ('' when it does not throw). */
function hintOf(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    return (error as { hint: string }).hint;
  }
  return '';
}

function layout(shape: QwenShape, overrides: Partial<MemoryLayout> = {}): MemoryLayout {
  return {
    shape,
    ranks: 1,
    masterWeights: 'fp32',
    computeBytes: 2,
    hasTeacher: true,
    teacherCpuOffload: false,
    gradientCheckpointing: true,
    microBatchRows: 4,
    tokensPerRow: 2048,
    ...overrides,
  };
}

describe('parameter counts', () => {
  it('equal transformers\' Qwen3-VL on the meta device for the 2B/4B/8B shapes', () => {
    expect(parameterCounts(SHAPES['2b']!).total).toBe(2_127_532_032);
    expect(parameterCounts(SHAPES['4b']!).total).toBe(4_437_815_808);
    expect(parameterCounts(SHAPES['8b']!).total).toBe(8_767_123_696);
    expect(parameterCounts(SHAPES['2b']!).layer).toBe(50_336_000);
    expect(parameterCounts(SHAPES['2b']!).visionBlock).toBe(12_596_224);
  });
});

describe('memory plan', () => {
  it('counts 16 bytes per parameter for fp32 masters, plus a bounded monitor snapshot (hand-computed, 2B, 1 rank)', () => {
    const plan = planMemory(layout(SHAPES['2b']!));
    const bytes = Object.fromEntries(plan.items.map((item) => [item.name, item.bytes]));
    const p = 2_127_532_032;
    expect(bytes['master weights']).toBe(4 * p);
    expect(bytes.gradients).toBe(4 * p);
    expect(bytes['AdamW moments']).toBe(8 * p);
    expect(bytes['update-monitor snapshot']).toBe(4 * 2 ** 24);
    expect(bytes.teacher).toBe(2 * p);
    // checkpointed: 28 layers × 8192 tokens × 2048 × 2 B, plus one layer's full set
    // 2 B × 8192 × (5·2048 + 2·2048 + 2·1024 + 4·6144) = 671,088,640 B, plus 384 MiB of logit chunks.
    expect(bytes.activations).toBe(28 * 8192 * 2048 * 2 + 671_088_640 + 384 * 2 ** 20);
  });

  it('shards weights, gradients and moments over ranks and halves them with bf16 masters', () => {
    const one = planMemory(layout(SHAPES['8b']!)).items.find((i) => i.name === 'AdamW moments')!.bytes;
    const eight = planMemory(layout(SHAPES['8b']!, { ranks: 8 })).items.find((i) => i.name === 'AdamW moments')!.bytes;
    const bf16 = planMemory(layout(SHAPES['8b']!, { masterWeights: 'bf16' })).items.find((i) => i.name === 'master weights')!.bytes;
    expect(eight).toBe(one / 8);
    expect(bf16).toBe(2 * 8_767_123_696);
  });

  it('refuses 8B on one 80 GiB GPU and names what to change; 8 ranks with offload fit', () => {
    expect(() => assertFits(layout(SHAPES['8b']!), 80 * GIB)).toThrow(/needs about 1\d\d\.\d GiB per GPU/);
    expect(hintOf(() => assertFits(layout(SHAPES['8b']!), 80 * GIB))).toMatch(/backend\.ranks 2: .* GiB.*teacherCpuOffload/);
    expect(() => assertFits(layout(SHAPES['8b']!, { ranks: 8, teacherCpuOffload: true }), 80 * GIB)).not.toThrow();
  });

  it('without gradient checkpointing 32 rows × 2,048 tokens of 2B do not fit an H200', () => {
    const hint = hintOf(() => assertFits(layout(SHAPES['2b']!, { gradientCheckpointing: false, microBatchRows: 32 }), 139 * GIB));
    expect(hint).toMatch(/microBatchSize 8: .*gradientCheckpointing true/);
    expect(() => assertFits(layout(SHAPES['2b']!, { microBatchRows: 4 }), 139 * GIB)).not.toThrow();
  });
});

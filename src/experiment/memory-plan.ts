/**
 * Memory planning for `hf` (Qwen3-VL) runs: the bytes one GPU needs for the OPSD stage (full
 * fine-tuning, the largest stage), from the model's config.json alone, before any process starts.
 *
 * Parameter counts are exact for Qwen3-VL's architecture (checked against transformers on the meta
 * device: 2B 2,127,532,032; 4B 4,437,815,808; 8B 8,767,123,696). Per rank, under FSDP2 over
 * `ranks` GPUs, with P parameters and c bytes per compute element (2 for bf16):
 * - master weights 4P/N (fp32 masters) or cP/N (in place); gradients the same; AdamW moments 2×;
 * - update-monitor snapshot: at most 2^24 sampled master elements (update_monitor.py);
 * - gathered compute copies: c × (root + two decoder layers: the one running and the prefetched);
 * - teacher (frozen, when it shares the student's worker): cP/N on the GPU, or only its gathered
 *   units with CPU offload;
 * - activations at the micro-batch: with gradient checkpointing c·tokens·H per layer plus one
 *   layer's full set; without, every layer's full set, c·tokens·(5H + 2q + 2kv + 4F) (norm in/out,
 *   q/k/v, attention out, o-proj out, gate/up/act/product); plus the chunked logits (~384 MiB).
 *   Vision-tower activations (64–256 image tokens per row) are small next to 2k-token responses
 *   and are not counted.
 * It is an estimate: allocator fragmentation and CUDA context are covered by a 10 % headroom.
 */
import { ConfigError } from '../errors.js';

/** The sizes of one Qwen3-VL checkpoint (from its config.json). */
export interface QwenShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  tied: boolean;
  visionDepth: number;
  visionHidden: number;
  visionFfn: number;
  visionPositions: number;
  patch: number;
  temporalPatch: number;
  merge: number;
  deepstack: number;
}

const num = (value: unknown, key: string, file: string): number => {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError('bad_model_config', `${file}: ${key} is ${JSON.stringify(value)}, expected a number`, {
      hint: 'Point model.path at a Qwen3-VL checkpoint (model_type qwen3_vl).',
    });
  }
  return value;
};

/** Reads the sizes out of a Qwen3-VL config.json object. */
export function shapeOfConfig(json: Record<string, unknown>, file: string): QwenShape {
  const text = (json.text_config ?? {}) as Record<string, unknown>;
  const vision = (json.vision_config ?? {}) as Record<string, unknown>;
  const heads = num(text.num_attention_heads, 'text_config.num_attention_heads', file);
  const hidden = num(text.hidden_size, 'text_config.hidden_size', file);
  return {
    vocab: num(text.vocab_size, 'text_config.vocab_size', file),
    hidden,
    layers: num(text.num_hidden_layers, 'text_config.num_hidden_layers', file),
    heads,
    kvHeads: num(text.num_key_value_heads, 'text_config.num_key_value_heads', file),
    headDim: typeof text.head_dim === 'number' ? text.head_dim : hidden / heads,
    ffn: num(text.intermediate_size, 'text_config.intermediate_size', file),
    tied: Boolean(json.tie_word_embeddings ?? text.tie_word_embeddings ?? false),
    visionDepth: num(vision.depth, 'vision_config.depth', file),
    visionHidden: num(vision.hidden_size, 'vision_config.hidden_size', file),
    visionFfn: num(vision.intermediate_size, 'vision_config.intermediate_size', file),
    visionPositions: num(vision.num_position_embeddings ?? 2304, 'vision_config.num_position_embeddings', file),
    patch: num(vision.patch_size ?? 16, 'vision_config.patch_size', file),
    temporalPatch: num(vision.temporal_patch_size ?? 2, 'vision_config.temporal_patch_size', file),
    merge: num(vision.spatial_merge_size ?? 2, 'vision_config.spatial_merge_size', file),
    deepstack: Array.isArray(vision.deepstack_visual_indexes) ? vision.deepstack_visual_indexes.length : 0,
  };
}

/** Parameter counts: total, one decoder layer, and the FSDP root (everything outside layers and blocks). */
export interface ParameterCounts {
  total: number;
  layer: number;
  visionBlock: number;
  root: number;
}

/** Exact parameter counts of a Qwen3-VL model of `shape`. */
export function parameterCounts(s: QwenShape): ParameterCounts {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const layer = s.hidden * (q + 2 * kv) + q * s.hidden + 2 * s.headDim + 3 * s.hidden * s.ffn + 2 * s.hidden;
  const vh = s.visionHidden;
  const visionBlock = 4 * vh + (vh * 3 * vh + 3 * vh) + (vh * vh + vh) + (vh * s.visionFfn + s.visionFfn) + (s.visionFfn * vh + vh);
  const merged = vh * s.merge * s.merge;
  const mergerCore = merged * merged + merged + merged * s.hidden + s.hidden;
  const mergers = 2 * vh + mergerCore + s.deepstack * (2 * merged + mergerCore);
  const patchEmbed = 3 * s.temporalPatch * s.patch * s.patch * vh + vh;
  const embed = s.vocab * s.hidden;
  const root = embed + (s.tied ? 0 : embed) + s.hidden + patchEmbed + s.visionPositions * vh + mergers;
  return { total: root + s.layers * layer + s.visionDepth * visionBlock, layer, visionBlock, root };
}

/** What one GPU holds; the inputs of `planMemory`. */
export interface MemoryLayout {
  shape: QwenShape;
  ranks: number;
  masterWeights: 'fp32' | 'bf16';
  /** Bytes per compute element (2 for bf16, 4 for float32). */
  computeBytes: number;
  /** The frozen teacher shares this GPU's worker. */
  hasTeacher: boolean;
  teacherCpuOffload: boolean;
  gradientCheckpointing: boolean;
  /** Rows of one forward/backward on this rank. */
  microBatchRows: number;
  /** Prompt + response tokens of one row. */
  tokensPerRow: number;
}

/** The plan: named byte counts and their sum. */
export interface MemoryPlan {
  items: Array<{ name: string; bytes: number }>;
  totalBytes: number;
}

/** The update monitor's snapshot bound (MAX_SNAPSHOT in py_backend/mgsd_backend/sharding/update_monitor.py). */
const MONITOR_ELEMENTS = 2 ** 24;
const LOGIT_CHUNK_BYTES = 3 * 4 * 2 ** 25; // logits, log-softmax and their gradient for one 2^25-element chunk

/** The estimated bytes per GPU of `layout` (module header for the formulas). */
export function planMemory(layout: MemoryLayout): MemoryPlan {
  const { shape, ranks, computeBytes: c } = layout;
  const counts = parameterCounts(shape);
  const shard = counts.total / ranks;
  const masterBytes = layout.masterWeights === 'fp32' ? 4 : c;
  const gathered = c * (counts.root + 2 * Math.max(counts.layer, counts.visionBlock));
  const tokens = layout.microBatchRows * layout.tokensPerRow;
  const q = shape.heads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const perLayerFull = c * tokens * (5 * shape.hidden + 2 * q + 2 * kv + 4 * shape.ffn);
  const activations = layout.gradientCheckpointing
    ? shape.layers * c * tokens * shape.hidden + perLayerFull
    : shape.layers * perLayerFull;
  const items = [
    { name: 'master weights', bytes: masterBytes * shard },
    { name: 'gradients', bytes: masterBytes * shard },
    { name: 'AdamW moments', bytes: 2 * masterBytes * shard },
    { name: 'update-monitor snapshot', bytes: (masterBytes * Math.min(counts.total, MONITOR_ELEMENTS)) / ranks },
    { name: 'gathered compute weights', bytes: gathered },
    { name: 'teacher', bytes: layout.hasTeacher ? (layout.teacherCpuOffload ? gathered : c * shard) : 0 },
    { name: 'activations', bytes: activations + LOGIT_CHUNK_BYTES },
  ];
  return { items, totalBytes: items.reduce((sum, item) => sum + item.bytes, 0) };
}

const GIB = 2 ** 30;
/** Share of GPU memory the plan may use (the rest: allocator fragmentation, CUDA context). */
export const USABLE_FRACTION = 0.9;

/** The plan as lines for the preflight output. */
export function formatPlan(plan: MemoryPlan, layout: MemoryLayout, gpuBytes: number | null): string[] {
  const lines = [`[memory] per GPU, ${layout.ranks} rank(s), ${layout.microBatchRows} row(s) × ${layout.tokensPerRow} tokens per micro-batch:`];
  for (const item of plan.items) lines.push(`[memory]   ${item.name.padEnd(26)} ${(item.bytes / GIB).toFixed(1).padStart(7)} GiB`);
  const of = gpuBytes === null ? '' : ` of ${(gpuBytes / GIB).toFixed(0)} GiB`;
  lines.push(`[memory]   ${'total'.padEnd(26)} ${(plan.totalBytes / GIB).toFixed(1).padStart(7)} GiB${of}`);
  return lines;
}

/** Throws a ConfigError naming what to change when `layout` does not fit `gpuBytes`. */
export function assertFits(layout: MemoryLayout, gpuBytes: number): void {
  const need = planMemory(layout).totalBytes;
  if (need <= USABLE_FRACTION * gpuBytes) return;
  const gib = (layout2: MemoryLayout): string => `${(planMemory(layout2).totalBytes / GIB).toFixed(1)} GiB`;
  const options = [
    `more ranks (backend.ranks ${layout.ranks * 2}: ${gib({ ...layout, ranks: layout.ranks * 2 })})`,
    layout.microBatchRows > 1 ? `a smaller micro-batch (backend.microBatchSize ${Math.max(1, Math.floor(layout.microBatchRows / 4))}: ${gib({ ...layout, microBatchRows: Math.max(1, Math.floor(layout.microBatchRows / 4)) })})` : null,
    layout.hasTeacher && !layout.teacherCpuOffload ? `teacher CPU offload (model.teacherCpuOffload true: ${gib({ ...layout, teacherCpuOffload: true })})` : null,
    layout.gradientCheckpointing ? null : `gradient checkpointing (model.gradientCheckpointing true: ${gib({ ...layout, gradientCheckpointing: true })})`,
  ].filter((option): option is string => option !== null);
  throw new ConfigError(
    'does_not_fit',
    `the OPSD stage needs about ${(need / GIB).toFixed(1)} GiB per GPU, more than ${(USABLE_FRACTION * 100).toFixed(0)} % of the ${(gpuBytes / GIB).toFixed(0)} GiB available`,
    { hint: `Change one of: ${options.join('; ')}. (backend.gpuMemoryGiB overrides the GPU size.)` },
  );
}

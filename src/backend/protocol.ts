/**
 * The wire contract: the one place it is declared (docs/protocol.md).
 *
 * Declares `PROTOCOL_VERSION`, the op names (`OP`), the shared vocabularies (estimators, score
 * modes, model dtypes, the message size limit) and, per op, the zod schema of its arguments and
 * of its result; the op names and estimators live in `protocol-names.ts`, the tensors in
 * `protocol-tensors.ts` (both re-exported here). Wire keys stay snake_case.
 *
 * The Python worker never reads this file: `npm run gen:contract` turns it into
 * `py_backend/mgsd_backend/contract/protocol.schema.json` (JSON Schema, `contract.ts`), which the
 * worker validates every request against with `jsonschema`; a test fails while that file is stale.
 * Hence every rule must be expressible in JSON Schema: a cross-field rule is declared with
 * `requiredWhen` (a zod refine plus the equivalent `if`/`then`), never with a bare `.refine`.
 * The client parses every request's args and every reply through these schemas, so a drift
 * between the two sides is a `ProtocolError` at the first call, never a silent misread.
 */
import { z } from 'zod';

import type { ChatView } from '../chat.js';
import { ESTIMATORS, type Estimator, HELLO, OP, type OpName, RANK_EXIT_CODES, SERVER_OPS } from './protocol-names.js';

/** Bumped on any incompatible change of framing, tensors or op schemas (both sides at once). */
export const PROTOCOL_VERSION = 1;

/** The worker's default limit on one request's size (`--max-message-mib`). */
export const MAX_MESSAGE_MIB = 512;

/** What `score` returns beside the token log-probs. */
export const SCORE_MODES = ['token', 'topk', 'full'] as const;
/** Parameter dtypes a model may be loaded in. */
export const MODEL_DTYPES = ['float32', 'bfloat16', 'float16'] as const;
/** How `distill_step` computed its `kl`: exact (full teacher), over top-k buckets, or the k1 sample estimate. */
export const KL_KINDS = ['exact', 'topk_buckets', 'sampled_k1'] as const;

// ---- argument pieces ------------------------------------------------------------------------
const positiveInt = z.number().int().positive();
const role = z.string().min(1).describe('a model slot of this worker (student, teacher, …)');
const lr = z.number().min(0);
const gradClip = z.number().positive();
const temperature = z.number().positive();

/**
 * Makes `need` required (and non-null) whenever `when` equals `value`. Declared once, enforced
 * twice: a zod refine here and the same rule as JSON Schema `if`/`then` for the worker.
 */
function requiredWhen<T extends z.ZodObject>(schema: T, need: string, when: string, value: string) {
  const rule = `required when ${when} is "${value}"`;
  const holds = (args: Record<string, unknown>): boolean => args[when] !== value || (args[need] ?? null) !== null;
  return schema
    .refine((args) => holds(args as Record<string, unknown>), { message: `${need} is ${rule}`, path: [need] })
    .meta({
      if: { properties: { [when]: { const: value } }, required: [when] },
      then: { required: [need], properties: { [need]: { not: { type: 'null' } } }, description: rule },
    });
}

const ChatPartSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string() }),
  z.strictObject({ type: z.literal('image').describe('refers to this row of the images tensor') }),
]);
const ChatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.array(ChatPartSchema).min(1),
});
/** One sample's prompt (`src/chat.ts` `ChatView`). */
export const ChatViewSchema = z.array(ChatMessageSchema).min(1);
const ViewsSchema = z.array(ChatViewSchema).min(1).meta({ id: 'views', description: 'one chat view per sample (row)' });

const ClipSchema = z
  .strictObject({
    low: z.number().min(0).describe('ratio clip below 1 (1 - low)'),
    high: z.number().min(0).describe('ratio clip above 1 (1 + high)'),
    dual: z.number().min(1).describe('dual-clip bound for negative advantages'),
  })
  .meta({ id: 'clip', description: 'PPO-style ratio clipping' });

/** A model spec of `load`: the tiny VLM or a Hugging Face (Qwen3-VL) checkpoint. */
export const ModelSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('tiny'),
    config: z.strictObject({
      d_model: positiveInt,
      n_layers: positiveInt,
      n_heads: positiveInt,
      patch_px: positiveInt,
      max_seq_len: positiveInt,
      image_size_px: positiveInt,
    }),
    path: z
      .string()
      .min(1)
      .nullable()
      .optional()
      .describe('a saved tiny model (config.json + model.safetensors, e.g. written by `mgsd pretrain`) whose weights the role starts from when no checkpoint is given; null = fresh weights'),
  }),
  z.strictObject({
    kind: z.literal('hf'),
    path: z.string().min(1),
    lora: z.strictObject({ rank: positiveInt, alpha: z.number().positive(), dropout: z.number().min(0).lt(1) }).nullable(),
    gradient_checkpointing: z.boolean(),
    /** fp32 (default): fp32 master weights under bf16 compute; bf16: updated in place (EasyR1 parity). */
    master_weights: z.enum(['fp32', 'bf16']).optional().describe('fp32 (default): fp32 master weights under bf16 compute; bf16: updated in place'),
    /** A frozen model keeps its FSDP shards in CPU memory (CPUOffloadPolicy). */
    cpu_offload: z.boolean().optional().describe("a frozen model keeps its FSDP shards in CPU memory"),
  }),
]).meta({ id: 'model_spec', description: 'the tiny VLM or a Hugging Face (Qwen3-VL) checkpoint' });

const OptimizerSchema = z.strictObject({
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]),
  weight_decay: z.number().min(0),
  eps: z.number().positive(),
});

const TeacherSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('wire').describe('the teacher scores travel as request tensors') }),
  z.strictObject({ source: z.literal('role'), role, views: ViewsSchema }),
]);

// ---- per-op argument schemas ----------------------------------------------------------------
const EmptyArgs = z.strictObject({});

const LoadArgsSchema = z.union([
  z.strictObject({ role, alias_of: role.describe('another role of this worker: the same weights') }).describe('an alias load (role and alias_of only)'),
  z
    .strictObject({
      role,
      model: ModelSpecSchema,
      checkpoint: z.string().min(1).nullable().optional().describe('a checkpoint directory to load'),
      trainable: z.boolean(),
      optimizer: OptimizerSchema.nullable().optional(),
      device: z.string().min(1),
      dtype: z.enum(MODEL_DTYPES),
      seed: z.number().int().min(0),
      restore_optimizer: z.boolean().optional().describe("restore the checkpoint's optimizer state (default true; false starts a new stage)"),
    })
    .describe('a fresh model load (model, device, dtype, seed, trainable)'),
]);

const GenerateArgsSchema = z.strictObject({
  role,
  views: ViewsSchema,
  sampling: z.strictObject({
    max_new_tokens: positiveInt,
    temperature: z.number().min(0).describe('0 = greedy'),
    top_p: z.number().gt(0).max(1),
    seed: z.number().int().min(0),
  }),
});

const ScoreArgsSchema = requiredWhen(
  z.strictObject({ role, views: ViewsSchema, temperature, mode: z.enum(SCORE_MODES), k: positiveInt.nullable().optional() }),
  'k',
  'mode',
  'topk',
);

/** Rows per forward/backward of a training step (gradient accumulation); null/absent = all rows at once. */
const microBatchSize = positiveInt.nullable().optional().describe('rows per forward/backward (gradient accumulation); null = all rows at once');

const SftStepArgsSchema = z.strictObject({
  role,
  views: ViewsSchema,
  targets: z.array(z.string()).min(1),
  append_eos: z.boolean(),
  lr,
  grad_clip: gradClip,
  micro_batch_size: microBatchSize,
});

const DistillStepArgsSchema = requiredWhen(
  z.strictObject({
    role,
    views: ViewsSchema,
    estimator: z.enum(ESTIMATORS),
    temperature,
    lr,
    grad_clip: gradClip,
    micro_batch_size: microBatchSize,
    clip: ClipSchema,
    teacher: TeacherSchema,
    k: positiveInt.nullable().optional(),
  }),
  'k',
  'estimator',
  'topk',
);

const PgStepArgsSchema = z.strictObject({ role, views: ViewsSchema, lr, grad_clip: gradClip, clip: ClipSchema, micro_batch_size: microBatchSize });

const SaveArgsSchema = z.strictObject({
  role,
  dir: z.string().min(1),
  include_optimizer: z.boolean(),
  /** full (one process) | dcp (sharded, resumable at any N) | hub (export); default: dcp under a process group, else full. */
  layout: z.enum(['full', 'dcp', 'hub']).optional().describe('default: dcp under a process group, else full'),
});

/** Each op's arguments (the request header's `args`). */
export const ARGS_SCHEMAS = {
  ping: EmptyArgs,
  set_threads: z.strictObject({ threads: positiveInt }),
  echo: z.record(z.string(), z.unknown()).describe('any object; echoed back'),
  stop: EmptyArgs,
  load: LoadArgsSchema,
  generate: GenerateArgsSchema,
  score: ScoreArgsSchema,
  sft_step: SftStepArgsSchema,
  distill_step: DistillStepArgsSchema,
  pg_step: PgStepArgsSchema,
  save: SaveArgsSchema,
} satisfies Record<OpName, z.ZodType>;

// ---- per-op result schemas: every key the worker sends, nothing else -----------------------
const count = z.number().int().min(0);
const opSeconds = { op_seconds: z.number().describe('wall time inside the op') };
/** Every training step: the loss and the update monitor's numbers (docs/protocol.md). */
const StepMetrics = {
  loss: z.number(),
  grad_norm: z.number(),
  lr: z.number(),
  tokens: count,
  update_rel_norm: z.number(),
  update_changed_fraction: z.number().min(0).max(1),
  micro_batches: count.optional().describe('micro-batches the step ran as (micro_batch_size); absent: one'),
  ...opSeconds,
};
const DescribeSchema = z
  .looseObject({
    kind: z.string(),
    params: count,
    trainable_params: count,
    vocab: count,
    device: z.string(),
    dtype: z.string(),
  })
  .describe('model facts for the run manifest; a model kind may add keys (config, lora, …)');
const loaded = { describe: DescribeSchema, step: count.describe('optimizer steps taken so far'), optimizer_restored: z.boolean() };

/** Each op's result (the reply header's `result`). */
export const RESULT_SCHEMAS = {
  ping: z.strictObject({
    pid: z.number().int(),
    uptime_s: z.number(),
    ranks: z.array(z.strictObject({ rank: z.number().int(), pid: z.number().int() })).describe("every rank of the worker's group with its pid (one entry for a single process)"),
  }),
  set_threads: z.strictObject({ threads: z.number().int().positive() }),
  echo: z.record(z.string(), z.unknown()).describe('the args'),
  stop: z.strictObject({}),
  load: z.strictObject({ ...loaded, ...opSeconds }),
  generate: z.strictObject({ texts: z.array(z.string()), ...opSeconds }),
  score: z.strictObject({ ...opSeconds }),
  sft_step: z.strictObject(StepMetrics),
  distill_step: z.strictObject({
    ...StepMetrics,
    log_ratio_mean: z.number(),
    kl: z.number().nullable(),
    kl_kind: z.enum(KL_KINDS),
    student_entropy: z.number(),
    teacher_entropy: z.number().nullable(),
  }),
  pg_step: z.strictObject({ ...StepMetrics, clip_fraction: z.number() }),
  save: z.strictObject({
    files: z.array(z.string()),
    step: count,
    layout: z.enum(['full', 'dcp', 'hub']),
    metadata_sha256: z.string().optional().describe("dcp: sha256 of DCP's pickled `.metadata`, checked before any load"),
    ...opSeconds,
  }),
} satisfies Record<OpName, z.ZodType>;

/** The arguments a caller passes for op O, and what comes back. */
export type ArgsOf<O extends OpName> = z.input<(typeof ARGS_SCHEMAS)[O]>;
export type ResultOf<O extends OpName> = z.output<(typeof RESULT_SCHEMAS)[O]>;

export { ESTIMATORS, type Estimator, HELLO, OP, type OpName, RANK_EXIT_CODES, SERVER_OPS };
export {
  REPLY_TENSORS,
  REQUEST_TENSORS,
  type ReplyTensorsOf,
  type RequestTensorsOf,
  type TensorSpec,
  type TensorsOf,
  WIRE_TEACHER_TENSORS,
} from './protocol-tensors.js';

// Compile-time guard: the views schema accepts exactly what `src/chat.ts` builds.
void ([] as ChatView satisfies z.input<typeof ChatViewSchema>);

/**
 * The wire contract on the TypeScript side (docs/protocol.md; mirror of
 * `py_backend/mgsd_backend/protocol.py`).
 *
 * Declares, once: `PROTOCOL_VERSION`, the op names (`OP`), and per op the zod schema of its
 * arguments, the zod schema of its result, and the tensors its reply carries (dtype, per-row
 * rank). Wire keys stay snake_case, exactly as documented. The client parses every request's
 * args and every reply through these schemas, so a drift between the two sides is a
 * `ProtocolError` at the first call, never a silent misread. Request tensors are validated by the
 * worker (it owns the op); reply tensors by the client.
 */
import { z } from 'zod';

import type { ChatView } from '../chat.js';
import type { DType, Tensor } from './codec.js';

/** Bumped on any incompatible change of framing, tensors or op schemas (both sides at once). */
export const PROTOCOL_VERSION = 1;

/** Every op a worker answers. `hello` is the worker's first message, never a request. */
export const OP = {
  ping: 'ping',
  echo: 'echo',
  stop: 'stop',
  setThreads: 'set_threads',
  load: 'load',
  generate: 'generate',
  score: 'score',
  sftStep: 'sft_step',
  distillStep: 'distill_step',
  pgStep: 'pg_step',
  save: 'save',
} as const;
/** A wire op name (`'sft_step'`, …). */
export type OpName = (typeof OP)[keyof typeof OP];
/** The `op` of a worker's first message. */
export const HELLO = 'hello';

// ---- argument pieces ------------------------------------------------------------------------
const positiveInt = z.number().int().positive();
const role = z.string().min(1);
const lr = z.number().min(0);
const gradClip = z.number().positive();
const temperature = z.number().positive();

const ChatPartSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string() }),
  z.strictObject({ type: z.literal('image') }),
]);
const ChatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.array(ChatPartSchema).min(1),
});
/** One sample's prompt (`src/chat.ts` `ChatView`). */
export const ChatViewSchema = z.array(ChatMessageSchema).min(1);
const ViewsSchema = z.array(ChatViewSchema).min(1);

const ClipSchema = z.strictObject({ low: z.number().min(0), high: z.number().min(0), dual: z.number().min(1) });

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
  }),
  z.strictObject({
    kind: z.literal('hf'),
    path: z.string().min(1),
    lora: z.strictObject({ rank: positiveInt, alpha: z.number().positive(), dropout: z.number().min(0).lt(1) }).nullable(),
    gradient_checkpointing: z.boolean(),
    /** fp32 (default): fp32 master weights under bf16 compute; bf16: updated in place (EasyR1 parity). */
    master_weights: z.enum(['fp32', 'bf16']).optional(),
    /** A frozen model keeps its FSDP shards in CPU memory (CPUOffloadPolicy). */
    cpu_offload: z.boolean().optional(),
  }),
]);

const OptimizerSchema = z.strictObject({
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]),
  weight_decay: z.number().min(0),
  eps: z.number().positive(),
});

const TeacherSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('wire') }),
  z.strictObject({ source: z.literal('role'), role, views: ViewsSchema }),
]);

// ---- per-op argument schemas ----------------------------------------------------------------
const EmptyArgs = z.strictObject({});

const LoadArgsSchema = z.union([
  z.strictObject({ role, alias_of: role }),
  z.strictObject({
    role,
    model: ModelSpecSchema,
    checkpoint: z.string().min(1).nullable().optional(),
    trainable: z.boolean(),
    optimizer: OptimizerSchema.nullable().optional(),
    device: z.string().min(1),
    dtype: z.enum(['float32', 'bfloat16', 'float16']),
    seed: z.number().int().min(0),
    /** Restore the checkpoint's optimizer state (default true); false starts a new stage afresh. */
    restore_optimizer: z.boolean().optional(),
  }),
]);

const GenerateArgsSchema = z.strictObject({
  role,
  views: ViewsSchema,
  sampling: z.strictObject({
    max_new_tokens: positiveInt,
    temperature: z.number().min(0),
    top_p: z.number().gt(0).max(1),
    seed: z.number().int().min(0),
  }),
});

const needsK = (args: { k?: number | null | undefined }, mode: string): boolean => mode !== 'topk' || (args.k ?? null) !== null;

const ScoreArgsSchema = z
  .strictObject({ role, views: ViewsSchema, temperature, mode: z.enum(['token', 'topk', 'full']), k: positiveInt.nullable().optional() })
  .refine((args) => needsK(args, args.mode), { message: 'k is required when mode is "topk"', path: ['k'] });

/** Rows per forward/backward of a training step (gradient accumulation); null/absent = all rows at once. */
const microBatchSize = positiveInt.nullable().optional();

const SftStepArgsSchema = z.strictObject({
  role,
  views: ViewsSchema,
  targets: z.array(z.string()).min(1),
  append_eos: z.boolean(),
  lr,
  grad_clip: gradClip,
  micro_batch_size: microBatchSize,
});

const DistillStepArgsSchema = z
  .strictObject({
    role,
    views: ViewsSchema,
    estimator: z.enum(['sampled', 'topk', 'full', 'forward']),
    temperature,
    lr,
    grad_clip: gradClip,
    micro_batch_size: microBatchSize,
    clip: ClipSchema,
    teacher: TeacherSchema,
    k: positiveInt.nullable().optional(),
  })
  .refine((args) => needsK(args, args.estimator), { message: 'k is required when estimator is "topk"', path: ['k'] });

const PgStepArgsSchema = z.strictObject({ role, views: ViewsSchema, lr, grad_clip: gradClip, clip: ClipSchema, micro_batch_size: microBatchSize });

const SaveArgsSchema = z.strictObject({
  role,
  dir: z.string().min(1),
  include_optimizer: z.boolean(),
  /** full (one process) | dcp (sharded, resumable at any N) | hub (export); default: dcp under a process group, else full. */
  layout: z.enum(['full', 'dcp', 'hub']).optional(),
});

// ---- per-op result schemas (loose: a worker may add metrics; known keys are checked) ---------
const opSeconds = { op_seconds: z.number().optional() };
const finite = z.number();
/** Every training step: the update monitor's numbers beside the loss (docs/protocol.md). */
const StepMetrics = {
  loss: finite,
  grad_norm: finite,
  lr: finite,
  tokens: z.number().int().min(0),
  update_rel_norm: finite,
  update_changed_fraction: z.number().min(0).max(1),
  ...opSeconds,
};

/** Each op's result (the reply header's `result`). */
export const RESULT_SCHEMAS = {
  /** `ranks`: every rank of the worker's group with its pid (one entry for a single-process worker). */
  ping: z.looseObject({ pid: z.number().int(), uptime_s: z.number(), ranks: z.array(z.object({ rank: z.number().int(), pid: z.number().int() })) }),
  set_threads: z.looseObject({ threads: z.number().int().positive() }),
  echo: z.record(z.string(), z.unknown()),
  stop: z.looseObject({}),
  load: z.looseObject({ describe: z.looseObject({ kind: z.string() }), ...opSeconds }),
  generate: z.looseObject({ texts: z.array(z.string()), ...opSeconds }),
  score: z.looseObject({ ...opSeconds }),
  sft_step: z.looseObject(StepMetrics),
  distill_step: z.looseObject({
    ...StepMetrics,
    log_ratio_mean: finite,
    kl: finite.nullable(),
    student_entropy: finite,
    teacher_entropy: finite.nullable(),
  }),
  pg_step: z.looseObject({ ...StepMetrics, clip_fraction: finite }),
  save: z.looseObject({
    files: z.array(z.string()),
    layout: z.enum(['full', 'dcp', 'hub']),
    /** dcp: sha256 of DCP's pickled `.metadata`, checked before any load. */
    metadata_sha256: z.string().optional(),
    ...opSeconds,
  }),
} satisfies Record<OpName, z.ZodType>;

/** Each op's arguments (the request header's `args`). */
export const ARGS_SCHEMAS = {
  ping: EmptyArgs,
  set_threads: z.strictObject({ threads: positiveInt }),
  echo: z.record(z.string(), z.unknown()),
  stop: EmptyArgs,
  load: LoadArgsSchema,
  generate: GenerateArgsSchema,
  score: ScoreArgsSchema,
  sft_step: SftStepArgsSchema,
  distill_step: DistillStepArgsSchema,
  pg_step: PgStepArgsSchema,
  save: SaveArgsSchema,
} satisfies Record<OpName, z.ZodType>;

// ---- tensors --------------------------------------------------------------------------------
/** A tensor an op accepts or returns: dtype, allowed per-row ranks, presence. */
export interface TensorSpec {
  readonly dtype: DType;
  readonly ranks: readonly number[];
  readonly required: boolean;
}
type Specs = Readonly<Record<string, TensorSpec>>;

const spec = <D extends DType, R extends boolean>(dtype: D, ranks: number[], required: R) => ({ dtype, ranks, required });
const images = spec('uint8', [3], false);
const response = { response_ids: spec('int64', [1], true), response_mask: spec('bool', [1], true) };

/** Tensors each op's request may carry (the worker validates them; mirror of protocol.py). */
export const REQUEST_TENSORS = {
  ping: {},
  echo: {},
  stop: {},
  set_threads: {},
  load: {},
  generate: { images },
  score: { images, ...response },
  sft_step: { images },
  distill_step: {
    images,
    ...response,
    old_logprobs: spec('float32', [1], false),
    teacher_logprobs: spec('float32', [1], false),
    teacher_topk_ids: spec('int64', [2], false),
    teacher_topk_logprobs: spec('float32', [2], false),
    teacher_full_logprobs: spec('float32', [2], false),
  },
  pg_step: { images, ...response, advantages: spec('float32', [0, 1], true), old_logprobs: spec('float32', [1], true) },
  save: {},
} satisfies Record<OpName, Specs>;

/** Tensors each op's reply carries (checked by the client). `echo` returns whatever it was sent. */
export const REPLY_TENSORS = {
  ping: {},
  echo: {},
  stop: {},
  set_threads: {},
  load: {},
  generate: {
    response_ids: spec('int64', [1], true),
    response_mask: spec('bool', [1], true),
    logprobs: spec('float32', [1], true),
    token_char_end: spec('int32', [1], true),
  },
  score: {
    logprobs: spec('float32', [1], true),
    entropy: spec('float32', [1], true),
    topk_ids: spec('int64', [2], false),
    topk_logprobs: spec('float32', [2], false),
    full_logprobs: spec('float32', [2], false),
  },
  sft_step: {},
  distill_step: { log_ratio: spec('float32', [1], true) },
  pg_step: {},
  save: {},
} satisfies Record<OpName, Specs>;

/** The typed tensors of a spec table: required names present, optional ones maybe. */
export type TensorsOf<S extends Specs> = {
  [K in keyof S as S[K]['required'] extends true ? K : never]: Tensor<S[K]['dtype']>;
} & {
  [K in keyof S as S[K]['required'] extends true ? never : K]?: Tensor<S[K]['dtype']>;
};

/** The arguments a caller passes for op O, and what comes back. */
export type ArgsOf<O extends OpName> = z.input<(typeof ARGS_SCHEMAS)[O]>;
export type ResultOf<O extends OpName> = z.output<(typeof RESULT_SCHEMAS)[O]>;
export type RequestTensorsOf<O extends OpName> = TensorsOf<(typeof REQUEST_TENSORS)[O]>;
export type ReplyTensorsOf<O extends OpName> = TensorsOf<(typeof REPLY_TENSORS)[O]>;

// Compile-time guard: the views schema accepts exactly what `src/chat.ts` builds.
void ([] as ChatView satisfies z.input<typeof ChatViewSchema>);

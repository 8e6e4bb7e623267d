/**
 * The tensors of the wire contract (docs/protocol.md, "Tensors"): per op, which tensors a
 * request may carry and which its reply carries, with dtype, allowed per-row ranks, presence,
 * and the cross-tensor rules (`sameShapeAs`, `lastDim`; every tensor has one row per view).
 * Exported through `protocol.ts` and, like it, turned into the worker's JSON contract.
 * Request tensors are validated by the worker (it owns the op); reply tensors by the client.
 */
import type { DType, Tensor } from './codec.js';
import type { Estimator, OpName } from './protocol-names.js';

/** A tensor an op accepts or returns. */
export interface TensorSpec {
  readonly dtype: DType;
  /** Allowed ranks of one row (the batch dimension excluded). */
  readonly ranks: readonly number[];
  readonly required: boolean;
  /** Another tensor of the same message whose full shape this one must equal. */
  readonly sameShapeAs?: string;
  /** The size the last dimension must have (images: 3 RGB channels). */
  readonly lastDim?: number;
}
type Specs = Readonly<Record<string, TensorSpec>>;

const spec = <D extends DType, R extends boolean>(dtype: D, ranks: number[], required: R, rules: { sameShapeAs?: string; lastDim?: number } = {}) => ({
  dtype,
  ranks,
  required,
  ...rules,
});
const images = spec('uint8', [3], false, { lastDim: 3 });
const response = { response_ids: spec('int64', [1], true), response_mask: spec('bool', [1], true, { sameShapeAs: 'response_ids' }) };

/** Tensors each op's request may carry (the worker validates them). `echo` takes any. */
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
    old_logprobs: spec('float32', [1], false, { sameShapeAs: 'response_ids' }),
    teacher_logprobs: spec('float32', [1], false, { sameShapeAs: 'response_ids' }),
    teacher_topk_ids: spec('int64', [2], false),
    teacher_topk_logprobs: spec('float32', [2], false, { sameShapeAs: 'teacher_topk_ids' }),
    teacher_full_logprobs: spec('float32', [2], false),
  },
  pg_step: {
    images,
    ...response,
    advantages: spec('float32', [0, 1], true),
    old_logprobs: spec('float32', [1], true, { sameShapeAs: 'response_ids' }),
  },
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

/** `distill_step` with `{"source": "wire"}`: the teacher tensors each estimator needs. */
export const WIRE_TEACHER_TENSORS = {
  sampled: ['teacher_logprobs'],
  topk: ['teacher_topk_ids', 'teacher_topk_logprobs'],
  full: ['teacher_full_logprobs'],
  forward: ['teacher_full_logprobs'],
} as const satisfies Record<Estimator, readonly (keyof (typeof REQUEST_TENSORS)['distill_step'])[]>;

/** The typed tensors of a spec table: required names present, optional ones maybe. */
export type TensorsOf<S extends Specs> = {
  [K in keyof S as S[K]['required'] extends true ? K : never]: Tensor<S[K]['dtype']>;
} & {
  [K in keyof S as S[K]['required'] extends true ? never : K]?: Tensor<S[K]['dtype']>;
};

/** The tensors a caller sends with op O, and those that come back. */
export type RequestTensorsOf<O extends OpName> = TensorsOf<(typeof REQUEST_TENSORS)[O]>;
export type ReplyTensorsOf<O extends OpName> = TensorsOf<(typeof REPLY_TENSORS)[O]>;

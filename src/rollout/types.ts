/**
 * The vocabulary of rollouts: one sampled response of the student for one record, with its tokens
 * (kept verbatim: they go back to the teacher and the student unchanged) and its grade.
 */
import type { Tensor } from '../backend/codec.js';
import type { ChatView } from '../chat.js';
import type { DataRecord } from '../data/schema.js';
import type { GradedResponse } from './grade.js';

/** A batch of sampled responses, row i belonging to `records[i]`. */
export interface RolloutBatch {
  records: DataRecord[];
  /** The prompts the responses were sampled from (and the images they showed). */
  views: ChatView[];
  images?: Tensor<'uint8'>;
  texts: string[];
  /** int64 `[B, R]`, right-padded. */
  responseIds: Tensor<'int64'>;
  /** bool `[B, R]`. */
  responseMask: Tensor<'bool'>;
  /** float32 `[B, R]`: log-probs of the sampled tokens under the sampling policy. */
  logprobs: Tensor<'float32'>;
  /** int32 `[B, R]`: characters of text covered up to each token. */
  tokenCharEnd: Tensor<'int32'>;
  /** The simulator's grade of each response (logged; not a training signal in OPSD). */
  grades: GradedResponse[];
  /** The sampling seed of the batch. */
  seed: number;
}

/**
 * Rollout batches ⇄ JSON, so a checkpoint can hold rollouts already sampled for the next step
 * (with overlapped sampling they come from the previous weights; resuming must reuse them to stay
 * exact). Images are not stored: they are re-rendered from the records.
 */
import { tensor } from '../backend/codec.js';
import type { DataRecord } from '../data/schema.js';
import { gradeResponse, type GradingOptions } from './grade.js';
import type { RolloutBatch } from './types.js';
import { buildViewBatch, type ImageSource, type ViewKind, type ViewOptions } from './views.js';

/** The JSON form of a rollout batch. */
export interface SerializedRollouts {
  ids: string[];
  texts: string[];
  seed: number;
  shape: [number, number];
  responseIds: number[];
  responseMask: number[];
  logprobs: number[];
  tokenCharEnd: number[];
}

export function serializeRollouts(batch: RolloutBatch): SerializedRollouts {
  return {
    ids: batch.records.map((record) => record.id),
    texts: batch.texts,
    seed: batch.seed,
    shape: [batch.responseIds.shape[0] ?? 0, batch.responseIds.shape[1] ?? 0],
    responseIds: Array.from(batch.responseIds.data, Number),
    responseMask: Array.from(batch.responseMask.data),
    logprobs: Array.from(batch.logprobs.data),
    tokenCharEnd: Array.from(batch.tokenCharEnd.data),
  };
}

/** Rebuilds a batch; `lookup` maps ids back to records (throws for an unknown id). */
export function deserializeRollouts(
  saved: SerializedRollouts,
  lookup: (id: string) => DataRecord,
  view: ViewKind,
  context: { viewOptions: ViewOptions; images: ImageSource; grading: GradingOptions },
): RolloutBatch {
  const records = saved.ids.map(lookup);
  const batch = buildViewBatch(records, view, context.viewOptions, context.images);
  const shape = [...saved.shape];
  return {
    records,
    views: batch.views,
    ...(batch.images ? { images: batch.images } : {}),
    texts: saved.texts,
    responseIds: tensor('int64', shape, BigInt64Array.from(saved.responseIds, (v) => BigInt(v))),
    responseMask: tensor('bool', shape, Uint8Array.from(saved.responseMask)),
    logprobs: tensor('float32', shape, Float32Array.from(saved.logprobs)),
    tokenCharEnd: tensor('int32', shape, Int32Array.from(saved.tokenCharEnd)),
    grades: records.map((record, i) => gradeResponse(record, saved.texts[i] ?? '', context.grading)),
    seed: saved.seed,
  };
}

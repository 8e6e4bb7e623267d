/**
 * Sampling responses from a worker and grading them: the student's side of a rollout.
 * Grading parses and simulates in TypeScript; garbage output is a parse failure, never a crash.
 */
import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { gradeResponse, type GradingOptions } from './grade.js';
import type { RolloutBatch } from './types.js';
import { buildViewBatch, type ImageSource, type ViewKind, type ViewOptions } from './views.js';

/** Sampling settings of one generate call. */
export interface SamplingSettings {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  seed: number;
}

/** What `sampleRollouts` needs besides the records. */
export interface SampleContext {
  worker: WorkerHandle;
  role: string;
  view: ViewKind;
  viewOptions: ViewOptions;
  images: ImageSource;
  grading: GradingOptions;
}

/** Generates one response per record and grades it. */
export async function sampleRollouts(records: DataRecord[], sampling: SamplingSettings, context: SampleContext): Promise<RolloutBatch> {
  const batch = buildViewBatch(records, context.view, context.viewOptions, context.images);
  const reply = await context.worker.generate(
    {
      role: context.role,
      views: batch.views,
      sampling: { max_new_tokens: sampling.maxNewTokens, temperature: sampling.temperature, top_p: sampling.topP, seed: sampling.seed },
    },
    batch.images ? { images: batch.images } : {},
  );
  const texts = reply.result.texts;
  return {
    records,
    views: batch.views,
    ...(batch.images ? { images: batch.images } : {}),
    texts,
    responseIds: reply.tensors.response_ids,
    responseMask: reply.tensors.response_mask,
    logprobs: reply.tensors.logprobs,
    tokenCharEnd: reply.tensors.token_char_end,
    grades: records.map((record, i) => gradeResponse(record, texts[i] ?? '', context.grading)),
    seed: sampling.seed,
  };
}

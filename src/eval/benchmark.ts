/**
 * Evaluating a model on a set of records: decode (greedy by default) through a worker, grade every
 * response with the one parser and the simulator, and aggregate into the paper's metrics.
 * Requests are pipelined (two in flight) so the worker never waits for TypeScript.
 */
import type { WorkerHandle } from '../backend/client.js';
import type { DataRecord } from '../data/schema.js';
import { deriveSeed } from '../envs/index.js';
import { sampleRollouts } from '../rollout/sample.js';
import type { ImageSource, ViewKind, ViewOptions } from '../rollout/views.js';
import type { GradedResponse, GradingOptions } from '../rollout/grade.js';
import { type MetricsSummary, summarizeMetrics } from './metrics.js';

/** How one model is decoded for evaluation. */
export interface EvalContext {
  worker: WorkerHandle;
  role: string;
  viewOptions: ViewOptions;
  images: ImageSource;
  grading: GradingOptions;
  batchSize: number;
  maxNewTokens: number;
  /** 0 = greedy (the official benchmark). */
  temperature: number;
  topP: number;
  seed: number;
}

/** Every record's response and grade, and their aggregate. */
export interface EvalOutcome {
  graded: GradedResponse[];
  texts: string[];
  summary: MetricsSummary;
}

/** Decodes and grades `records` shown as `view` (`student` = image, `text` = symbolic). */
export async function evaluateRecords(records: readonly DataRecord[], view: ViewKind, context: EvalContext): Promise<EvalOutcome> {
  const chunks: DataRecord[][] = [];
  for (let start = 0; start < records.length; start += context.batchSize) chunks.push(records.slice(start, start + context.batchSize));
  const sample = (chunk: DataRecord[], index: number) =>
    sampleRollouts(
      chunk,
      { maxNewTokens: context.maxNewTokens, temperature: context.temperature, topP: context.topP, seed: deriveSeed('eval', context.seed, view, index) },
      { worker: context.worker, role: context.role, view, viewOptions: context.viewOptions, images: context.images, grading: context.grading },
    );
  const graded: GradedResponse[] = [];
  const texts: string[] = [];
  let inFlight = chunks.length > 0 ? sample(chunks[0]!, 0) : null;
  for (let index = 0; index < chunks.length; index += 1) {
    const current = await inFlight!;
    inFlight = index + 1 < chunks.length ? sample(chunks[index + 1]!, index + 1) : null;
    graded.push(...current.grades);
    texts.push(...current.texts);
  }
  return { graded, texts, summary: summarizeMetrics(graded) };
}

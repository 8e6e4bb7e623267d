/**
 * The building blocks of the experiment config's schema (`config.ts`, `config-eval.ts`): bounded
 * numbers shared by several sections, and the decoding settings every sampler takes.
 */
import { z } from 'zod';

export const positiveInt = z.number().int().positive();
export const nonNegativeInt = z.number().int().nonnegative();
export const probability = z.number().min(0).max(1);
export const seedSchema = z.number().int().min(0).max(0xffffffff);
/** Bounds that catch a typo (an extra zero or three) long before a run would crash or never end. */
export const MAX_STEPS = 1_000_000;
export const MAX_BATCH = 4096;
export const MAX_NEW_TOKENS = 8192;
export const steps = nonNegativeInt.max(MAX_STEPS);
export const batchSize = positiveInt.max(MAX_BATCH);
export const maxNewTokens = positiveInt.max(MAX_NEW_TOKENS);
export const timeoutMs = positiveInt.min(1000).max(24 * 3_600_000);

/** Decoding settings: temperature, nucleus mass, budget. */
export const SamplingSchema = z
  .object({
    temperature: z.number().min(0).max(10).default(1.0).describe('sampling temperature (0 = greedy)'),
    topP: z.number().gt(0).max(1).default(1.0).describe('nucleus sampling mass'),
    maxNewTokens: maxNewTokens.default(64).describe('decoding budget per response'),
  })
  .strict()
  .describe('decoding settings');

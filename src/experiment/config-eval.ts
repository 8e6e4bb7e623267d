/**
 * The `eval` section of the experiment config: the benchmark every model is evaluated on, the
 * published out-of-distribution sets, and the validation and checkpoint selection every trained
 * model shares (defaults only here, like the rest of `config.ts`).
 */
import { z } from 'zod';

import { BENCHMARK_KINDS } from '../data/schema.js';
import { batchSize, MAX_STEPS, maxNewTokens, nonNegativeInt, positiveInt, SamplingSchema } from './config-primitives.js';

/** The `eval` section. */
export const EvalSchema = z
  .object({
    maxNewTokens: maxNewTokens.default(64).describe('decoding budget of the benchmark'),
    temperature: z.number().min(0).max(10).default(0).describe('0 = greedy (the official benchmark)'),
    batchSize: batchSize.default(128).describe('prompts per generate request'),
    perception: z.boolean().default(true).describe('perception accuracy per field on the held-out test split'),
    modalityGap: z.boolean().default(true).describe('evaluate on the symbolic text too; report text − image'),
    outOfDistribution: z
      .array(
        z
          .object({
            kind: z.enum(BENCHMARK_KINDS).describe('which published format the file is in'),
            file: z.string().min(1).describe("the file, relative to the config's folder, the current directory or the package root; its name (without extension) names the set"),
            levels: z.array(positiveInt.min(2)).min(1).describe('the levels to evaluate; each must fit the image (compact: level × 8 px ≤ `data.imageSizePx`)'),
            limitPerLevel: nonNegativeInt.default(0).describe('evaluate at most this many records per level, in file order (0 = all)'),
          })
          .strict(),
      )
      .default([])
      .describe('published test sets evaluated like the test split (image input for every model, text for base) and reported as out-of-distribution rows, apart from the in-distribution macro; every record of the files is kept out of the train split (docs/datasets.md)'),
    // Defaults on the keys themselves (not a section prefault), so `--set eval.validation.maxNewTokens=…`
    // keeps the official temperature and top-p instead of falling back to the sampling defaults.
    validation: SamplingSchema.extend({
      temperature: z.number().min(0).max(10).default(0.6).describe('sampling temperature (0 = greedy)'),
      topP: z.number().gt(0).max(1).default(0.95).describe('nucleus sampling mass'),
      every: positiveInt.max(MAX_STEPS).default(50).describe('steps between validations of every trained model (OPSD, visual SFT, GRPO), and after the last step'),
    })
      .prefault({})
      .describe('validation of every trained model on the validation split, logged as a curve in its metrics (official decoding: T 0.6, top-p 0.95)'),
    selection: z
      .enum(['best-val', 'last'])
      .default('best-val')
      .describe('which checkpoint of each trained model (OPSD, visual SFT, GRPO) is evaluated: `best-val` = best validation macro success (official for OPSD; ties keep the earlier), `last` = the final step'),
  })
  .strict()
  .describe('the benchmark every model is evaluated on');

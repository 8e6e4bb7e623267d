/**
 * Reading a run directory's state back: every JSON file mgsd wrote into a run is parsed through a
 * zod schema here, so a corrupt or hand-edited file fails with the file, the field and a remedy
 * that exists — never a raw `SyntaxError`, `ENOENT` or a crash further down.
 *
 * Invariant: schemas describe what mgsd writes (run-state.ts, checkpoints.ts, run.ts, eval/); a
 * writer that adds a field adds it here too.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { DataError } from '../errors.js';
import { formatIssues } from './load.js';

/** `run-state.json`: the finished stages. */
/** `FinishedStage.selected` (run-state.ts), also kept in stage-cache entries. */
export const StageSelectionSchema = z
  .object({ rule: z.enum(['best-val', 'last']), step: z.number().int().nonnegative(), valSuccess: z.number().nullable() })
  .strict();

export const RunStateSchema = z
  .object({
    stages: z.record(
      z.string(),
      z
        .object({
          stepsDone: z.number().int().nonnegative(),
          checkpoint: z.string().min(1),
          /** Set when the stage was reused from the stage cache (stage-reuse.ts). */
          reusedFrom: z.object({ run: z.string(), cache: z.string() }).strict().optional(),
          /** Trained models: the checkpoint `eval.selection` chose (selection.ts). */
          selected: StageSelectionSchema.optional(),
        })
        .strict(),
    ),
  })
  .strict();

/** `checkpoints/<stage>/latest.json` and `best.json`. */
export const CheckpointPointerSchema = z
  .object({
    stepsDone: z.number().int().nonnegative(),
    dir: z.string().regex(/^checkpoints\//, 'expected a path under checkpoints/'),
    logOffsets: z.object({ metrics: z.number().int().nonnegative(), ledger: z.number().int().nonnegative() }).strict(),
    state: z.record(z.string(), z.unknown()),
    score: z.number().optional(),
    /** How the worker wrote the checkpoint (py_backend/mgsd_backend/checkpoint.py layouts). */
    layout: z.enum(['full', 'dcp', 'hub']).optional(),
    /** dcp: sha256 of DCP's pickled `.metadata` (also in the checkpoint's manifest, checked before loading). */
    metadataSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict();

/** `manifest.json` of a run (the fields read back; the rest is for people). */
export const RunManifestSchema = z.looseObject({
  mgsd: z.string(),
  git_commit: z.string().nullable(),
  seed: z.number().int(),
  started_at: z.string(),
  /** sha256 of `config.resolved.json` as written: a later edit of that file is detected. */
  config_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 hex digest').optional(),
});

const RateSchema = z.looseObject({ count: z.number(), n: z.number(), rate: z.number(), low: z.number(), high: z.number() });

/** `eval/<model>-<input>.summary.json` (a `MetricsSummary`; deep parts checked loosely). */
export const MetricsSummarySchema = z.looseObject({
  n: z.number().int(),
  tasks: z.array(z.looseObject({ task: z.string(), n: z.number().int(), levels: z.array(z.looseObject({ level: z.number().int() })) })),
  macro: z.looseObject({ success: z.number(), optimalSuccess: z.number(), parsed: z.number() }),
});

/** `eval/<model>-perception.summary.json` (a `TaskPerception[]`). */
export const PerceptionSummarySchema = z.array(
  z.looseObject({ task: z.string(), n: z.number().int(), all: RateSchema, fields: z.record(z.string(), RateSchema) }),
);

/**
 * Reads `path` as JSON and validates it with `schema`. `what` names the file for people
 * ("run state"), `remedy` is the hint: what to do when the file is missing, not JSON, or wrong.
 */
export function readRunFile<S extends z.ZodType>(path: string, schema: S, what: string, remedy: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DataError('run_file_missing', `${path}: cannot read the ${what} (${missing ? 'the file is missing' : (error as Error).message})`, {
      cause: error,
      hint: remedy,
      context: { path },
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new DataError('run_file_invalid', `${path}: the ${what} is not valid JSON (${(error as Error).message})`, {
      cause: error,
      hint: remedy,
      context: { path },
    });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new DataError('run_file_invalid', `${path}: the ${what} has unexpected fields\n${formatIssues(result.error.issues, raw)}`, {
      hint: remedy,
      context: { path },
    });
  }
  return result.data;
}

/** sha256 hex of a file's bytes. */
export function sha256OfFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * The on-disk shape of a dataset record: the one source of truth for what `<split>.jsonl` of a dataset
 * holds, for built datasets and imported published test sets alike.
 *
 * A record carries the instance (the puzzle, from which every view is derived), the exact solver's
 * answer, the relative path of its rendered image, and where it came from. Key order in the files
 * follows the order of the schemas below (the writer builds records in that order), which keeps
 * files byte-identical across runs.
 */
import { z } from 'zod';

import { ENV_NAMES } from '../envs/types.js';

/** Dataset splits, in the order they are built (test first: it wins every collision). */
export const SPLITS = ['test', 'val', 'train'] as const;
/** One of the dataset splits. */
export type Split = (typeof SPLITS)[number];

/** Order in which splits are read and listed (the natural reading order). */
export const READ_ORDER: readonly Split[] = ['train', 'val', 'test'];

/** The kinds of published test sets `mgsd data import` understands (benchmarks/README.md). */
export const BENCHMARK_KINDS = ['vsp-frozenlake', 'vprl-frozenlake', 'vprl-minibehaviour'] as const;
/** One of the published file formats. */
export type BenchmarkKind = (typeof BENCHMARK_KINDS)[number];

const cell = z.number().int().min(0);
/** A cell `{row, col}`, 0-based. */
export const PosSchema = z.object({ row: cell, col: cell }).strict();

const FrozenLakeInstanceSchema = z
  .object({ task: z.literal('frozenlake'), level: z.number().int().positive(), rows: z.array(z.string()) })
  .strict();

const MazeInstanceSchema = z
  .object({
    task: z.literal('maze'),
    level: z.number().int().positive(),
    walls: z.array(z.array(z.number().int().min(0).max(15))),
    start: PosSchema,
    goal: PosSchema,
  })
  .strict();

const MiniBehaviourInstanceSchema = z
  .object({
    task: z.literal('minibehaviour'),
    level: z.number().int().positive(),
    start: PosSchema,
    startDir: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
    printer: PosSchema,
    tableTopLeft: PosSchema,
  })
  .strict();

/** Any task's instance, discriminated by `task` (mirrors `Instance` of envs/types.ts). */
export const InstanceSchema = z.discriminatedUnion('task', [
  FrozenLakeInstanceSchema,
  MazeInstanceSchema,
  MiniBehaviourInstanceSchema,
]);

/** An action of a plan (mirrors `Action` of envs/types.ts). */
export const ActionSchema = z.enum(['up', 'down', 'left', 'right', 'pick', 'drop']);

/** What the exact solver found (mirrors `Solution` of envs/types.ts). */
export const SolutionSchema = z
  .object({
    optimalLength: z.number().int().positive(),
    numOptimalPlans: z.number().int().positive(),
    plan: z.array(ActionSchema),
  })
  .strict();

/** A generated instance: its seed is `deriveSeed(generatorVersion, seed, task, split, level, candidate)`. */
const GeneratedSourceSchema = z
  .object({
    kind: z.literal('generated'),
    generatorVersion: z.union([z.string(), z.number()]),
    /** Index of the candidate seed that produced the instance (skipped duplicates count). */
    candidate: z.number().int().nonnegative(),
  })
  .strict();

/** An imported published record: the file it came from and its line (0-based, as in its id). */
const ImportedSourceSchema = z
  .object({
    kind: z.enum(BENCHMARK_KINDS),
    file: z.string().min(1),
    line: z.number().int().nonnegative(),
    /** The record's `source` and `index` fields in the published file. */
    origin: z.string(),
    index: z.number().int().nonnegative().nullable(),
    /** `optimal_length` as published (null where the file has none, e.g. VSP). */
    publishedOptimalLength: z.number().int().positive().nullable(),
  })
  .strict();

/** Where a record came from: generated, or a line of a published file. */
export const RecordSourceSchema = z.discriminatedUnion('kind', [GeneratedSourceSchema, ImportedSourceSchema]);

/** One line of `<split>.jsonl`. */
export const DataRecordSchema = z
  .object({
    /** Unique within the dataset: `<task>-L<level>-<split>-<index>` or `<file>/<line>` when imported. */
    id: z.string().min(1),
    task: z.enum(ENV_NAMES),
    split: z.enum(SPLITS),
    level: z.number().int().positive(),
    bucket: z.enum(['easy', 'medium', 'hard']),
    /** The generator seed (null for imported records). */
    seed: z.number().int().min(0).max(0xffffffff).nullable(),
    instance: InstanceSchema,
    solution: SolutionSchema,
    /** PNG path relative to the dataset directory (POSIX separators). */
    image: z.string().min(1),
    source: RecordSourceSchema,
  })
  .strict()
  .refine((record) => record.instance.task === record.task && record.instance.level === record.level, {
    message: 'record task/level differ from its instance task/level',
  });

/** One dataset record. */
export type DataRecord = z.infer<typeof DataRecordSchema>;
/** A record's provenance. */
export type RecordSource = z.infer<typeof RecordSourceSchema>;

/** Where a record's image lives inside a dataset: `images/<split>/<task>/<id>.png`. */
export function imagePathOf(split: Split, task: string, id: string): string {
  return `images/${split}/${task}/${id}.png`;
}

/** Where a split's records live inside a dataset. */
export function recordsPathOf(split: Split): string {
  return `${split}.jsonl`;
}

/**
 * `manifest.json` of a dataset directory: what was built or imported, how, and the sha256 of every
 * file. It holds no timestamps or absolute paths, so the same inputs give a byte-identical file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { z } from 'zod';

import { DataError } from '../errors.js';
import { ENV_NAMES } from '../envs/types.js';
import { readTextFile } from './jsonl.js';
import { BENCHMARK_KINDS, type DataRecord, READ_ORDER } from './schema.js';

/** The manifest's file name inside a dataset directory. */
export const MANIFEST_FILE = 'manifest.json';

/** Version tag of the dataset layout; bump when the layout or the record schema changes. */
export const DATASET_FORMAT = 'mgsd-dataset/1';

const BucketCountsSchema = z
  .object({ total: z.number().int(), easy: z.number().int(), medium: z.number().int(), hard: z.number().int() })
  .strict();
type BucketCounts = z.infer<typeof BucketCountsSchema>;

const RenderSchema = z.object({ style: z.enum(['paper', 'compact']), sizePx: z.number().int().positive() }).strict();

const BuildOriginSchema = z
  .object({
    kind: z.literal('build'),
    seed: z.number().int(),
    /** The data inputs of the build (`DatasetBuildInput`), as given. */
    config: z.record(z.string(), z.unknown()),
    /** Published test sets whose instances were kept out of every split. */
    benchmarksExcluded: z.array(
      z.object({ kind: z.enum(BENCHMARK_KINDS), file: z.string(), sha256: z.string(), records: z.number().int() }).strict(),
    ),
  })
  .strict();

const ImportOriginSchema = z
  .object({
    kind: z.literal('import'),
    benchmark: z.enum(BENCHMARK_KINDS),
    file: z.string(),
    sha256: z.string(),
    /** Lines left out with `--skip-invalid` (1-based line numbers) and why. */
    skipped: z.array(z.object({ line: z.number().int(), reason: z.string() }).strict()),
  })
  .strict();

/** The shape of `manifest.json` (validated when a dataset is opened). */
export const ManifestSchema = z
  .object({
    format: z.literal(DATASET_FORMAT),
    toolVersion: z.string(),
    generatorVersion: z.union([z.string(), z.number()]),
    origin: z.discriminatedUnion('kind', [BuildOriginSchema, ImportOriginSchema]),
    render: RenderSchema,
    /** task → level → split → counts per bucket. */
    counts: z.record(z.string(), z.record(z.string(), z.record(z.string(), BucketCountsSchema))),
    /** Relative path → sha256 of every file except the manifest itself. */
    files: z.record(z.string(), z.string()),
  })
  .strict();

/** A dataset's manifest. */
export type DatasetManifest = z.infer<typeof ManifestSchema>;
/** How the dataset was made: a build (seed, inputs) or an import (file, skipped lines). */
export type ManifestOrigin = DatasetManifest['origin'];

/** The mgsd version, read from the package's `package.json`. */
export function readToolVersion(): string {
  const path = new URL('../../package.json', import.meta.url);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : 'unknown';
}

/** Counts records per task, level, split and bucket, in a stable key order. */
export function countRecords(records: readonly DataRecord[]): DatasetManifest['counts'] {
  const counts: DatasetManifest['counts'] = {};
  for (const task of ENV_NAMES) {
    const ofTask = records.filter((record) => record.task === task);
    if (ofTask.length === 0) continue;
    const levels = [...new Set(ofTask.map((record) => record.level))].sort((a, b) => a - b);
    const byLevel: Record<string, Record<string, BucketCounts>> = {};
    for (const level of levels) {
      const bySplit: Record<string, BucketCounts> = {};
      for (const split of READ_ORDER) {
        const group = ofTask.filter((record) => record.level === level && record.split === split);
        if (group.length > 0) bySplit[split] = bucketCounts(group);
      }
      byLevel[String(level)] = bySplit;
    }
    counts[task] = byLevel;
  }
  return counts;
}

function bucketCounts(records: readonly DataRecord[]): BucketCounts {
  const count = (bucket: string): number => records.filter((record) => record.bucket === bucket).length;
  return { total: records.length, easy: count('easy'), medium: count('medium'), hard: count('hard') };
}

/** Serialises a manifest (2-space JSON, trailing newline). */
export function formatManifest(manifest: DatasetManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * True when `dir` holds a dataset that mgsd wrote: a `manifest.json` whose `format` is an
 * `mgsd-dataset/<n>` tag (any version: an older dataset is still one of ours to replace).
 */
export function isDatasetDir(dir: string): boolean {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return false;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown };
    return typeof parsed.format === 'string' && parsed.format.startsWith(DATASET_FORMAT.split('/')[0]! + '/');
  } catch {
    return false; // unreadable or not JSON: not recognisably ours, so never replaced or written into
  }
}

/** The dataset directory that contains `path` (the path itself or a parent folder), or null. */
export function datasetContaining(path: string): string | null {
  let current = resolve(path);
  for (;;) {
    if (isDatasetDir(current)) return current;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** Reads and validates `<dir>/manifest.json`. */
export function readManifest(dir: string): DatasetManifest {
  const path = join(dir, MANIFEST_FILE);
  const text = readTextFile(path, 'dataset manifest');
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch (error) {
    throw new DataError('manifest_invalid', `${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const result = ManifestSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new DataError('manifest_invalid', `${path}: not an mgsd dataset manifest (${DATASET_FORMAT})\n${issues.join('\n')}`, {
      hint: 'Rebuild the dataset with `mgsd data build` or `mgsd data import` of this mgsd version.',
      context: { path },
    });
  }
  return result.data;
}

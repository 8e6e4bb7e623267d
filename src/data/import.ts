/**
 * `mgsd data import`: a published test set becomes a dataset directory with the same layout as a
 * build (split `test` only), re-rendered with mgsd's renderers.
 *
 * By default any malformed line fails the whole import and nothing is written; with
 * `shouldSkipInvalid` the valid lines are imported and the skipped ones are listed in the result
 * and in the manifest.
 */
import { basename } from 'node:path';

import { DataError } from '../errors.js';
import { GENERATOR_VERSION, getEnv } from '../envs/index.js';
import { writeAtomicDir } from './atomic-dir.js';
import { type BenchmarkEntry, type BenchmarkFile, formatBenchmarkIssues, readBenchmark } from './benchmarks.js';
import { type RenderInput, writeRecordImage, writeRecordsAndManifest } from './dataset-writer.js';
import type { DatasetManifest } from './manifest.js';
import type { ProgressReporter } from './progress.js';
import { type BenchmarkKind, type DataRecord, imagePathOf } from './schema.js';

/** What to import and how. */
export interface ImportInput {
  kind: BenchmarkKind;
  /** Path of the published JSONL file (already resolved). */
  file: string;
  render: RenderInput;
  /** Import the valid lines and list the rest, instead of failing. */
  shouldSkipInvalid: boolean;
  /** Keep at most this many records per level, in file order (0 = all). */
  limitPerLevel: number;
  /** Keep only these levels (null = all). */
  levels: readonly number[] | null;
}

/** Where and how to write. */
export interface ImportTarget {
  out: string;
  shouldReplace: boolean;
  toolVersion: string;
  progress: ProgressReporter;
}

/** The outcome of an import. */
export interface ImportResult {
  manifest: DatasetManifest;
  imported: number;
  /** Lines skipped with `shouldSkipInvalid`, as `file:line: reason`. */
  skipped: string[];
}

/** Imports a published file into `target.out`. */
export function importBenchmark(input: ImportInput, target: ImportTarget): ImportResult {
  const file = readBenchmark(input.kind, input.file);
  assertImportable(file, input);
  const records = selectEntries(file.entries, input).map((entry) => toRecord(input, file, entry));
  if (records.length === 0) throw emptyImport(file, input);
  const origin = {
    kind: 'import' as const,
    benchmark: input.kind,
    file: basename(input.file),
    sha256: file.sha256,
    skipped: file.issues.map((issue) => ({ line: issue.lineNumber, reason: issue.reason })),
  };
  const manifest = writeAtomicDir(target.out, { shouldReplace: target.shouldReplace }, (dir) => {
    const stage = target.progress.stage(`import ${file.name}`, records.length);
    records.forEach((record, index) => {
      writeRecordImage(dir, record, input.render);
      stage.update(index + 1);
    });
    stage.done({ records: records.length, skipped: file.issues.length });
    const about = { toolVersion: target.toolVersion, generatorVersion: GENERATOR_VERSION, render: input.render, origin };
    return writeRecordsAndManifest(dir, records, about);
  });
  const skipped = file.issues.map((issue) => `${input.file}:${issue.lineNumber}: ${issue.reason}`);
  return { manifest, imported: records.length, skipped };
}

/** Why nothing is left to import: an empty file, only skipped lines, or filters that kept nothing. */
function emptyImport(file: BenchmarkFile, input: ImportInput): DataError {
  if (file.entries.length === 0 && file.issues.length === 0) {
    return new DataError('import_empty', `${input.file}: the file holds no records (no non-blank line)`, {
      hint: `Pass a ${input.kind} JSONL file with one record per line (benchmarks/README.md describes the formats).`,
      context: { file: input.file },
    });
  }
  if (file.entries.length === 0) {
    return new DataError('import_empty', `${input.file}: no valid record to import (all ${file.issues.length} line(s) are malformed)\n${formatBenchmarkIssues(input.file, file.issues)}`, {
      hint: `Fix the lines above, or check that the file really is in the ${input.kind} format (benchmarks/README.md).`,
      context: { file: input.file },
    });
  }
  const filters = [
    ...(input.levels === null ? [] : [`--levels ${input.levels.join(',')}`]),
    ...(input.limitPerLevel > 0 ? [`--limit-per-level ${input.limitPerLevel}`] : []),
  ];
  const levels = [...new Set(file.entries.map((entry) => entry.instance.level))].sort((a, b) => a - b);
  return new DataError('import_empty', `${input.file}: ${filters.join(' and ')} kept none of its ${file.entries.length} valid records (levels in the file: ${levels.join(', ')})`, {
    hint: `Choose --levels among ${levels.join(', ')}.`,
    context: { file: input.file },
  });
}

/** Any malformed line fails the import unless invalid lines may be skipped. */
function assertImportable(file: BenchmarkFile, input: ImportInput): void {
  if (file.issues.length === 0 || input.shouldSkipInvalid) return;
  throw new DataError(
    'import_invalid',
    `${input.file}: ${file.issues.length} malformed record(s) in a ${input.kind} file; nothing was imported\n` +
      formatBenchmarkIssues(input.file, file.issues),
    { hint: 'Fix the lines above, or pass --skip-invalid to import the valid lines and list the rest.', context: { file: input.file } },
  );
}

function selectEntries(entries: readonly BenchmarkEntry[], input: ImportInput): BenchmarkEntry[] {
  const perLevel = new Map<number, number>();
  return entries.filter((entry) => {
    const level = entry.instance.level;
    if (input.levels !== null && !input.levels.includes(level)) return false;
    const seen = perLevel.get(level) ?? 0;
    if (input.limitPerLevel > 0 && seen >= input.limitPerLevel) return false;
    perLevel.set(level, seen + 1);
    return true;
  });
}

function toRecord(input: ImportInput, file: BenchmarkFile, entry: BenchmarkEntry): DataRecord {
  const { instance, solution } = entry;
  const spec = getEnv(instance.task).spec;
  return {
    id: entry.id,
    task: instance.task,
    split: 'test',
    level: instance.level,
    bucket: spec.bucketOf(instance.level, solution.optimalLength),
    seed: null,
    instance,
    solution: { optimalLength: solution.optimalLength, numOptimalPlans: solution.numOptimalPlans, plan: [...solution.plan] },
    image: imagePathOf('test', instance.task, entry.id),
    source: {
      kind: input.kind,
      file: basename(file.path),
      line: entry.lineNumber - 1,
      origin: entry.origin,
      index: entry.index,
      publishedOptimalLength: entry.publishedOptimalLength,
    },
  };
}

/**
 * The out-of-distribution sets of a run (`eval.outOfDistribution`): published test sets imported
 * with `importBenchmark` at the run's image style and size, exactly as `mgsd data import` would,
 * into the dataset cache under a key of everything the import depends on (the file's bytes, the
 * levels and limit kept, the render, the generator and tool versions). A second run reuses them.
 *
 * Invariants: a set is named by its file name without extension (also its record ids' prefix);
 * every configured level has records in the file; no set shares a puzzle (dedup key) with the run's
 * train split — the build keeps every listed file out of it, and this is checked, not assumed. (Test
 * and val may hold a published puzzle: they are drawn as without the sets, see `dataset-input.ts`.)
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { benchmarkNameOf, resolveBenchmarkFile } from '../data/benchmarks.js';
import { type Dataset, openDataset } from '../data/dataset.js';
import { importBenchmark } from '../data/import.js';
import { readToolVersion } from '../data/manifest.js';
import type { ProgressReporter } from '../data/progress.js';
import type { BenchmarkKind, DataRecord } from '../data/schema.js';
import { GENERATOR_VERSION, getEnv } from '../envs/index.js';
import { ConfigError, DataError } from '../errors.js';
import type { ExperimentConfig } from './config.js';

/** One imported out-of-distribution set. */
export interface OodSet {
  /** The file name without extension, e.g. `vsp-frozenlake`. */
  name: string;
  kind: BenchmarkKind;
  /** As written in the config. */
  file: string;
  levels: number[];
  limitPerLevel: number;
  /** The imported records (split `test`), in file order within each level. */
  records: DataRecord[];
  /** The imported dataset directory. */
  dir: string;
  /** sha256 of the import's inputs: the evaluated set's part of an evaluation key. */
  key: string;
}

/**
 * Imports (or reuses) every set of `eval.outOfDistribution`, then checks that none shares a puzzle
 * with the train split of `dataset`.
 */
export function ensureOodSets(config: ExperimentConfig, configDir: string | null, dataset: Dataset, progress: ProgressReporter): OodSet[] {
  const sets = config.eval.outOfDistribution.map((_entry, index) => ensureOodSet(config, configDir, index, progress));
  assertDisjoint(dataset, sets);
  return sets;
}

function ensureOodSet(config: ExperimentConfig, configDir: string | null, index: number, progress: ProgressReporter): OodSet {
  const entry = config.eval.outOfDistribution[index]!;
  const where = `eval.outOfDistribution[${index}]`;
  const path = resolveBenchmarkFile(entry.file, configDir);
  const name = benchmarkNameOf(path);
  const levels = [...new Set(entry.levels)].sort((a, b) => a - b);
  const render = { style: config.data.renderStyle, sizePx: config.data.imageSizePx };
  const toolVersion = readToolVersion();
  const fileSha = createHash('sha256').update(readFileSync(path)).digest('hex');
  const key = createHash('sha256')
    .update(JSON.stringify({ kind: entry.kind, file: fileSha, levels, limitPerLevel: entry.limitPerLevel, render, generator: GENERATOR_VERSION, toolVersion }))
    .digest('hex');
  const dir = resolve(join(config.data.cacheDir, `ood-${name}-${key.slice(0, 16)}`));
  if (existsSync(join(dir, 'manifest.json'))) {
    progress.note(`[data] reusing ${dir}`);
  } else if (existsSync(dir)) {
    throw new DataError('dataset_cache_damaged', `${dir} exists but holds no complete imported set (no manifest.json), so the run cannot reuse or re-import it (${where})`, {
      hint: `Delete ${dir} (mgsd never deletes a folder it did not finish writing).`,
      context: { dir },
    });
  } else {
    progress.note(`[data] importing ${entry.file} (levels ${levels.join(', ')}) into ${dir}`);
    const input = { kind: entry.kind, file: path, render, shouldSkipInvalid: false, limitPerLevel: entry.limitPerLevel, levels };
    importBenchmark(input, { out: dir, shouldReplace: false, toolVersion, progress });
  }
  const records = openDataset(dir).records;
  const missing = levels.filter((level) => !records.some((record) => record.level === level));
  if (missing.length > 0) {
    const present = [...new Set(records.map((record) => record.level))].join(', ');
    throw new ConfigError('ood_level_missing', `${where}.levels: ${entry.file} has no record of level(s) ${missing.join(', ')} (kept levels: ${present})`, {
      hint: 'List only levels the file holds (benchmarks/README.md gives each file\'s levels).',
    });
  }
  return { name, kind: entry.kind, file: entry.file, levels, limitPerLevel: entry.limitPerLevel, records, dir, key };
}

/** Fails when a puzzle of a set is also in the run's train split (a model would be trained on it). */
export function assertDisjoint(dataset: Pick<Dataset, 'dir' | 'records'>, sets: readonly Pick<OodSet, 'name' | 'records'>[]): void {
  if (sets.length === 0) return;
  const inDataset = new Map<string, DataRecord>();
  for (const record of dataset.records.filter((r) => r.split === 'train')) inDataset.set(`${record.task}:${getEnv(record.task).spec.dedupKey(record.instance as never)}`, record);
  for (const set of sets) {
    for (const record of set.records) {
      const twin = inDataset.get(`${record.task}:${getEnv(record.task).spec.dedupKey(record.instance as never)}`);
      if (twin === undefined) continue;
      throw new DataError('ood_overlap', `out-of-distribution set ${set.name}: ${record.id} is the same puzzle as ${twin.id} (${twin.split} split) of ${dataset.dir}`, {
        hint: 'The dataset was built without this file excluded; delete that dataset folder so the run rebuilds it with every eval.outOfDistribution file kept out of training.',
        context: { dataset: dataset.dir },
      });
    }
  }
}

/**
 * The data stage of a run: reuse the dataset built earlier for exactly this data config, or build
 * it. Datasets live under `data.cacheDir`, named by a hash of everything the build depends on
 * (the build input, the generator version, the tool version), so a run never trains on data from
 * another config and repeated runs skip the build.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { buildDataset } from '../data/build.js';
import { type Dataset, openDataset } from '../data/dataset.js';
import { readToolVersion } from '../data/manifest.js';
import type { ProgressReporter } from '../data/progress.js';
import { GENERATOR_VERSION } from '../envs/index.js';
import { DataError } from '../errors.js';
import type { ExperimentConfig } from './config.js';
import { toBuildInput } from './dataset-input.js';

/** The dataset of a run and whether it was reused. */
export interface DatasetStage {
  dataset: Dataset;
  isReused: boolean;
  /** sha256 of the build input (names the cache folder). */
  key: string;
}

/** Where the dataset of `config` is cached (relative `data.cacheDir` from the current folder), and its key. */
export function datasetDirOf(config: ExperimentConfig): { dir: string; key: string } {
  const input = toBuildInput(config);
  const key = createHash('sha256').update(JSON.stringify({ input, generator: GENERATOR_VERSION, toolVersion: readToolVersion() })).digest('hex');
  return { dir: resolve(join(config.data.cacheDir, `${config.name}-${key.slice(0, 16)}`)), key };
}

/** Opens the cached dataset for `config`, building it first when missing. */
export function ensureDataset(config: ExperimentConfig, configDir: string | null, progress: ProgressReporter): DatasetStage {
  const input = toBuildInput(config);
  const toolVersion = readToolVersion();
  const { dir, key } = datasetDirOf(config);
  const isReused = existsSync(join(dir, 'manifest.json'));
  if (!isReused && existsSync(dir)) {
    throw new DataError('dataset_cache_damaged', `${dir} exists but holds no complete dataset (no manifest.json), so the run cannot reuse or rebuild it`, {
      hint: `Delete ${dir} (mgsd never deletes a folder it did not finish writing), or choose another data.cacheDir in a new run.`,
      context: { dir },
    });
  }
  if (isReused) {
    progress.note(`[data] reusing ${dir}`);
  } else {
    progress.note(`[data] building ${dir}`);
    buildDataset(input, { out: dir, shouldReplace: false, toolVersion, progress, configDir });
  }
  return { dataset: openDataset(dir), isReused, key };
}

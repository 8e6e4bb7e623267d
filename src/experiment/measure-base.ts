/**
 * `mgsd pretrain --measure <dir>`: re-measures a base written by `mgsd pretrain` — the command its
 * card gives for checking its metrics. The base is verified against its card (files, sha256,
 * shape), its recipe's dataset is built (or reused from the dataset cache), and the base, loaded
 * exactly as `mgsd run` loads it (`model.path`, base stage off), is evaluated on the test split from
 * the text view and from the teacher's view with the reference plan. Nothing is written but the
 * dataset cache and the workers' logs (in a temporary folder).
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

import { PACKAGE_ROOT } from '../data/benchmarks.js';
import { evaluateRecords } from '../eval/benchmark.js';
import type { MetricsSummary } from '../eval/metrics.js';
import { ImageSource } from '../rollout/views.js';
import { CARD_FILE, readBaseCard, verifyBaseDir } from './base-card.js';
import { startWorkers } from './context.js';
import { viewOptionsOf } from './run-options.js';
import { ensureDataset } from './dataset-stage.js';
import { benchmarkContext } from './evaluations.js';
import { validateWrittenConfig } from './load.js';
import { loadRequest, ranksOf } from './models.js';
import { BASE_INPUTS, type BaseInput } from './pretrain-stage.js';
import type { Progress } from './progress.js';
import { sha256OfFile } from './run-files.js';

/** What to measure. */
export interface MeasureRequest {
  dir: string;
  progress: Progress;
}

/** The measured summaries, and one line per input comparing them with the card. */
export interface MeasuredBase {
  lines: string[];
  summaries: Record<BaseInput, MetricsSummary>;
}

/** Re-measures the base in `request.dir` on its recipe's test split. */
export async function measureBase(request: MeasureRequest): Promise<MeasuredBase> {
  const dir = resolve(request.dir);
  const card = readBaseCard(dir, '--measure');
  const where = `${join(dir, CARD_FILE)} (recipe.config)`;
  const recipe = validateWrittenConfig(card.recipe.config, where);
  const config = validateWrittenConfig({ ...card.recipe.config, model: { ...recipe.model, path: dir }, stages: { ...recipe.stages, base: { ...recipe.stages.base, enabled: false } } }, where);
  verifyBaseDir(dir, config, '--measure');
  // The recipe's relative paths (the published sets kept out of its train split) resolve from its folder.
  const recipeFile = isAbsolute(card.recipe.source) ? card.recipe.source : resolve(PACKAGE_ROOT, card.recipe.source);
  const { dataset } = ensureDataset(config, dirname(recipeFile), request.progress);
  const lines: string[] = [];
  const manifestSha = sha256OfFile(join(dataset.dir, 'manifest.json'));
  lines.push(manifestSha === card.dataset.manifestSha256 ? `dataset ${dataset.dir}: manifest sha256 matches the card` : `dataset ${dataset.dir}: manifest sha256 ${manifestSha.slice(0, 12)}… differs from the card's ${card.dataset.manifestSha256.slice(0, 12)}… (another mgsd version built it)`);
  const test = dataset.records.filter((record) => record.split === 'test');
  const ranks = ranksOf(config);
  const workers = { measure: { threads: Math.max(1, Math.floor(availableParallelism() / ranks)), ranks } };
  const client = await startWorkers(config, workers, mkdtempSync(join(tmpdir(), 'mgsd-measure-')));
  const summaries: Partial<Record<BaseInput, MetricsSummary>> = {};
  try {
    const worker = client.worker('measure');
    await worker.load(loadRequest(config, 'base', null, null)); // base stage off: the spec loads model.path
    const context = benchmarkContext(config, new ImageSource(viewOptionsOf(config)), worker, 'base');
    for (const input of BASE_INPUTS) {
      const outcome = await evaluateRecords(test, input, context);
      summaries[input] = outcome.summary;
      const measured = outcome.summary.macro.success;
      const recorded = card.metrics[input].macroSuccess;
      lines.push(`${input}: macro success ${(measured * 100).toFixed(1)}% (card: ${(recorded * 100).toFixed(1)}%, n ${outcome.summary.n})`);
    }
  } finally {
    await client.close();
  }
  return { lines, summaries: summaries as Record<BaseInput, MetricsSummary> };
}

/**
 * `mgsd eval`: evaluate one model of a finished (or interrupted) run on any dataset — the run's own
 * test split, or a published test set imported with `mgsd data import` — with the run's prompts,
 * image style, parser and decoding settings.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import { BackendClient } from '../backend/client.js';
import { openDataset } from '../data/dataset.js';
import type { DataRecord, Split } from '../data/schema.js';
import { COMPACT_CELL_PX } from '../envs/index.js';
import { ConfigError } from '../errors.js';
import { type EvalOutcome, evaluateRecords } from '../eval/benchmark.js';
import { toScoreLine } from '../rollout/grade.js';
import { ImageSource } from '../rollout/views.js';
import type { ExperimentConfig } from './config.js';
import { viewOptionsOf } from './context.js';
import { benchmarkContext } from './evaluations.js';
import { validateConfig } from './load.js';
import { loadRequest } from './models.js';
import type { Progress } from './progress.js';
import { RunDir } from './run-dir.js';
import { RunState } from './run-state.js';
import { MODEL_STAGES, type ModelName, STAGE } from '../names.js';

export { MODEL_STAGES } from '../names.js';

/** What to evaluate. */
export interface EvaluateRunRequest {
  run: string;
  /** A model name of the run, or a checkpoint directory. */
  model: string;
  /** Dataset directory (default: the run's dataset). */
  dataset: string | null;
  split: Split;
  input: 'image' | 'text';
  out: string | null;
  progress: Progress;
}

/** Evaluates and returns the outcome (the caller prints the table). */
export async function evaluateRun(request: EvaluateRunRequest): Promise<EvalOutcome & { skipped: number }> {
  const run = new RunDir(request.run);
  run.assertResumable();
  const { _source: _, ...raw } = run.readJson<Record<string, unknown>>(run.config);
  const config = validateConfig(raw, run.config);
  const checkpoint = checkpointOf(run, config, request.model);
  const datasetDir = request.dataset ?? run.readJson<{ run: { dataset: string } }>(run.results).run.dataset;
  const all = openDataset(datasetDir).records.filter((record) => record.split === request.split);
  const records = all.filter((record) => fitsImage(record, config));
  if (records.length < all.length) {
    request.progress.note(`[eval] skipped ${all.length - records.length} record(s) too large for ${config.data.imageSizePx}-px compact images`);
  }
  if (records.length === 0) throw new ConfigError('no_records', `no ${request.split} records to evaluate in ${datasetDir}`);
  const client = await BackendClient.start({
    workers: { eval: { threads: 2 } },
    logDir: run.logs,
    python: config.backend.python,
    startTimeoutMs: config.backend.startTimeoutMs,
    requestTimeoutMs: config.backend.requestTimeoutMs,
  });
  try {
    const worker = client.worker('eval');
    await worker.load(loadRequest(config, 'eval', checkpoint, null));
    const context = benchmarkContext(config, new ImageSource(viewOptionsOf(config)), worker, 'eval');
    const outcome = await evaluateRecords(records, request.input === 'image' ? 'student' : 'text', context);
    if (request.out !== null) {
      const lines = outcome.graded.map((graded, i) => JSON.stringify({ ...toScoreLine(graded), response: outcome.texts[i] }));
      writeFileSync(request.out, `${lines.join('\n')}\n`);
    }
    return { ...outcome, skipped: all.length - records.length };
  } finally {
    await client.close();
  }
}

/** The checkpoint of `model` in `run` (null = the configured pretrained model), or a directory. */
function checkpointOf(run: RunDir, config: ExperimentConfig, model: string): string | null {
  const stage = Object.hasOwn(MODEL_STAGES, model) ? MODEL_STAGES[model as ModelName] : undefined;
  if (stage === undefined) {
    const path = isAbsolute(model) ? model : resolve(model);
    if (existsSync(path)) return path;
    throw new ConfigError('unknown_model', `--model ${JSON.stringify(model)}: not a model of the run and not a checkpoint directory`, {
      hint: `Use one of ${Object.keys(MODEL_STAGES).join(', ')}, or a checkpoint directory under ${run.root}/checkpoints.`,
    });
  }
  if (stage === STAGE.base && config.model.kind === 'hf') return null;
  const finished = new RunState(run).get(stage);
  if (finished === null) {
    throw new ConfigError('stage_not_finished', `--model ${model}: stage ${stage} of ${run.root} has not finished`, {
      hint: `Finish the run with \`mgsd run --resume ${run.root}\`, or pass a checkpoint directory.`,
    });
  }
  return resolve(run.root, finished.checkpoint);
}

/** Compact images hold at most imageSizePx / 8 cells per side. */
function fitsImage(record: DataRecord, config: ExperimentConfig): boolean {
  return config.data.renderStyle !== 'compact' || record.level * COMPACT_CELL_PX <= config.data.imageSizePx;
}

/**
 * `mgsd eval`: evaluate one model of a finished (or interrupted) run on any dataset — the run's own
 * test split, or a published test set imported with `mgsd data import` — with the run's prompts,
 * image style, parser and decoding settings.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

import { z } from 'zod';

import { BackendClient } from '../backend/client.js';
import { openDataset } from '../data/dataset.js';
import type { DataRecord, Split } from '../data/schema.js';
import { COMPACT_CELL_PX } from '../envs/index.js';
import { ConfigError } from '../errors.js';
import { assertWritableFile, writeFileAtomic } from '../fs-atomic.js';
import { type EvalOutcome, evaluateRecords } from '../eval/benchmark.js';
import { toScoreLine } from '../rollout/grade.js';
import { ImageSource, type ViewKind } from '../rollout/views.js';
import type { ExperimentConfig } from './config.js';
import { viewOptionsOf } from './run-options.js';
import { benchmarkContext } from './evaluations.js';
import { validateWrittenConfig } from './load.js';
import { loadRequest, ranksOf } from './models.js';
import type { Progress } from './progress.js';
import { CHECKPOINT_MANIFEST } from './checkpoints.js';
import { datasetDirOf } from './dataset-stage.js';
import { assertSafeOutput, type NamedInput, runContaining } from './output-guard.js';
import { readResults } from './report-stage.js';
import { RunDir } from './run-dir.js';
import { readRunFile } from './run-files.js';
import { LOCK_FILE, withRunLock } from './run-lock.js';
import { RunState } from './run-state.js';
import { MODEL_STAGES, type ModelName, STAGE } from '../names.js';

export { MODEL_STAGES } from '../names.js';

/** The inputs `mgsd eval --input` offers. */
export const EVAL_INPUTS = ['image', 'text', 'teacher'] as const;
/** One of `EVAL_INPUTS`. */
export type EvalInput = (typeof EVAL_INPUTS)[number];
/** The view each input shows: the teacher's view is the one the frozen teacher scores with (reference plan included). */
const EVAL_VIEWS: Record<EvalInput, ViewKind> = { image: 'student', text: 'text', teacher: 'teacher' };

/** What to evaluate. */
export interface EvaluateRunRequest {
  run: string;
  /** A model name of the run, or a checkpoint directory. */
  model: string;
  /** Dataset directory (default: the run's dataset). */
  dataset: string | null;
  split: Split;
  /** image (student view), text (symbolic state), or teacher (symbolic state with the reference plan). */
  input: EvalInput;
  out: string | null;
  progress: Progress;
}

/** Evaluates and returns the outcome (the caller prints the table). */
export async function evaluateRun(request: EvaluateRunRequest): Promise<EvalOutcome & { skipped: number }> {
  const run = new RunDir(request.run);
  const config = validateWrittenConfig(run.readConfig().raw, run.config);
  const checkpoint = checkpointOf(run, config, request.model);
  const datasetDir = request.dataset ?? defaultDataset(run, config);
  if (request.out !== null) {
    assertSafeOutput('--out', request.out, [{ label: '--dataset', path: datasetDir }, ...runRecords(run)]);
    assertWritableFile(resolve(request.out), { label: '--out' });
  }
  // Writing into a run directory (its own or another) happens under that run's lock.
  const target = request.out === null ? null : runContaining(request.out);
  const work = (): Promise<EvalOutcome & { skipped: number }> => evaluate(request, run, config, checkpoint, datasetDir);
  return target === null ? work() : withRunLock(target.root, (message) => request.progress.note(message), work);
}

async function evaluate(
  request: EvaluateRunRequest,
  run: RunDir,
  config: ExperimentConfig,
  checkpoint: string | null,
  datasetDir: string,
): Promise<EvalOutcome & { skipped: number }> {
  const all = openDataset(datasetDir).records.filter((record) => record.split === request.split);
  const records = all.filter((record) => fitsImage(record, config));
  if (records.length < all.length) {
    request.progress.note(`[eval] skipped ${all.length - records.length} record(s) too large for ${config.data.imageSizePx}-px compact images`);
  }
  if (records.length === 0) {
    throw new ConfigError('no_records', `no ${request.split} records to evaluate in ${datasetDir}${all.length > 0 ? ` (all ${all.length} are too large for data.imageSizePx ${config.data.imageSizePx})` : ''}`, {
      hint: 'Choose another --split or --dataset.',
    });
  }
  const client = await BackendClient.start({
    // The evaluation runs alone: its ranks (backend.ranks) share every core.
    workers: { eval: { threads: Math.max(1, Math.floor(availableParallelism() / ranksOf(config))), ranks: ranksOf(config) } },
    logDir: run.logs,
    python: config.backend.python,
    startTimeoutMs: config.backend.startTimeoutMs,
    requestTimeoutMs: config.backend.requestTimeoutMs,
    heartbeatTimeoutMs: config.backend.heartbeatTimeoutMs,
  });
  try {
    const worker = client.worker('eval');
    await worker.load(loadRequest(config, 'eval', checkpoint, null));
    const context = benchmarkContext(config, new ImageSource(viewOptionsOf(config)), worker, 'eval');
    const outcome = await evaluateRecords(records, EVAL_VIEWS[request.input], context);
    if (request.out !== null) {
      const lines = outcome.graded.map((graded, i) => JSON.stringify({ ...toScoreLine(graded), response: outcome.texts[i] }));
      writeFileAtomic(resolve(request.out), `${lines.join('\n')}\n`, { label: '--out' });
    }
    return { ...outcome, skipped: all.length - records.length };
  } finally {
    await client.close();
  }
}

/** The files and folders of a run that `eval --out` must never replace (its own outputs in eval/ it may). */
function runRecords(run: RunDir): NamedInput[] {
  const paths = [run.config, run.manifest, run.state, run.results, join(run.root, LOCK_FILE), join(run.root, 'checkpoints'), join(run.root, 'metrics'), join(run.root, 'ledger'), run.logs];
  return paths.map((path) => ({ label: 'the run record', path }));
}

/**
 * The run's dataset: the one its results name, or — before the run finished its evaluations —
 * the cached dataset its config builds.
 */
function defaultDataset(run: RunDir, config: ExperimentConfig): string {
  if (existsSync(run.results)) return readResults(run).run.dataset;
  const { dir } = datasetDirOf(config);
  if (existsSync(dir)) return dir;
  throw new ConfigError('run_dataset_missing', `${run.root} has no results.json yet and its dataset ${dir} does not exist (data.cacheDir is relative to the folder a run starts in)`, {
    hint: `Run \`mgsd eval\` from the folder where the run was started, or pass --dataset <dir>.`,
  });
}

/** The checkpoint of `model` in `run` (null = the configured pretrained model), or a directory. */
export function checkpointOf(run: RunDir, config: ExperimentConfig, model: string): string | null {
  const stage = Object.hasOwn(MODEL_STAGES, model) ? MODEL_STAGES[model as ModelName] : undefined;
  if (stage === undefined) {
    const path = isAbsolute(model) ? model : resolve(model);
    if (existsSync(path)) return assertCheckpointDir(path, `--model ${model}`);
    throw new ConfigError('unknown_model', `--model ${JSON.stringify(model)}: not a model of the run and not a checkpoint directory`, {
      hint: `Use one of ${Object.keys(MODEL_STAGES).join(', ')}, or a checkpoint directory under ${run.root}/checkpoints.`,
    });
  }
  // An hf model, or a tiny run that loaded a pretrained base (model.path), has no base stage: its base is the configured model.
  if (stage === STAGE.base && (config.model.kind === 'hf' || !config.stages.base.enabled)) return null;
  const finished = new RunState(run).get(stage);
  if (finished === null) {
    const done = Object.keys(run.readState().stages);
    const progress = done.length === 0 ? 'no stage has finished yet' : `finished: ${done.join(', ')}`;
    throw new ConfigError('stage_not_finished', `--model ${model}: stage ${stage} of ${run.root} has not finished (${progress})`, {
      hint: `Finish the run with \`mgsd run --resume ${run.root}\`, or pass a checkpoint directory.`,
    });
  }
  return assertCheckpointDir(resolve(run.root, finished.checkpoint), `stage ${stage} of ${run.root}`);
}

/** The checkpoint manifest the worker writes (py_backend/mgsd_backend/checkpoint.py). */
const CheckpointManifestSchema = z.looseObject({ format: z.literal(1), kind: z.string(), step: z.number().int(), has_optimizer: z.boolean(), files: z.array(z.string()) });

/** Checks, before any worker starts, that `dir` is a complete checkpoint; returns it. */
function assertCheckpointDir(dir: string, what: string): string {
  const manifest = join(dir, CHECKPOINT_MANIFEST);
  if (!existsSync(manifest)) {
    throw new ConfigError('not_a_checkpoint', `${what}: ${dir} is not an mgsd checkpoint (no ${CHECKPOINT_MANIFEST})`, {
      hint: 'Pass a step-<n> folder under <run>/checkpoints/<stage>/, or a model name of the run.',
      context: { dir },
    });
  }
  readRunFile(manifest, CheckpointManifestSchema, 'checkpoint manifest', `The checkpoint in ${dir} is damaged: use another step-<n> folder, or resume the run to write a new one.`);
  return dir;
}

/** Compact images hold at most imageSizePx / 8 cells per side. */
function fitsImage(record: DataRecord, config: ExperimentConfig): boolean {
  return config.data.renderStyle !== 'compact' || record.level * COMPACT_CELL_PX <= config.data.imageSizePx;
}

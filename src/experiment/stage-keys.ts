/**
 * What each stage of `mgsd run` depends on, as a key: the config keys the stage reads, the keys of
 * its inputs (the dataset, the stage it starts from, the frozen teacher) and the code version.
 * Two runs whose keys for a stage are equal compute that stage identically, so the second reuses
 * the first's output (see `stage-cache.ts`).
 *
 * NOTE: a key must list every config key that can change a stage's output. When a stage starts
 * reading a new key, add it here; leaving one out makes a run reuse a stage it should recompute.
 * Keys that cannot change results (timeouts, the interpreter path, `name`) stay out, so they never
 * force a recompute. `backend` placement stays in: thread counts and the teacher's placement change
 * float reduction order and the OPSD overlap.
 */
import { baseIdentityOf, loadedBasePath } from './base-card.js';
import type { ExperimentConfig } from './config.js';
import { baselineSteps } from './budgets.js';
import { codeVersion, hashKey } from './stage-cache.js';

/** The keys of one run's stages and models (null: the stage is disabled). */
export interface StageKeys {
  dataset: string;
  base: string | null;
  sft: string | null;
  opsd: string | null;
  'visual-sft': string | null;
  grpo: string | null;
  /** The key of each model of the table (its weights): base, sft, mgsd, visual-sft, grpo. */
  models: Record<string, string>;
}

/** The config keys that shape every stage: seed, prompts, images, model architecture, placement. */
function commonOf(config: ExperimentConfig): Record<string, unknown> {
  // gpuMemoryGiB only sizes the preflight's memory check; it changes no result.
  const { python: _python, startTimeoutMs: _start, requestTimeoutMs: _request, gpuMemoryGiB: _gpu, ...backend } = config.backend;
  return { seed: config.seed, profile: config.profile, view: { renderStyle: config.data.renderStyle, imageSizePx: config.data.imageSizePx }, model: modelKeyOf(config), backend };
}

/**
 * The model part of every key. A loaded tiny base counts by its identity (its card's sha256), not by
 * its path, so caches never mix two bases written to the same folder and a moved base still matches;
 * a tiny model.path that is not loaded (the base stage trains one) does not count.
 */
function modelKeyOf(config: ExperimentConfig): Record<string, unknown> {
  if (config.model.kind !== 'tiny' || config.model.path === null) return config.model;
  const loaded = loadedBasePath(config);
  return loaded === null ? { ...config.model, path: null } : { ...config.model, path: null, base: baseIdentityOf(loaded) };
}

/** Computes every stage key of `config` over the dataset whose key is `datasetKey`. */
export function stageKeysOf(config: ExperimentConfig, datasetKey: string): StageKeys {
  const common = { ...commonOf(config), dataset: datasetKey, code: codeVersion() };
  const { stages, baselines } = config;
  const isTinyBase = config.model.kind === 'tiny' && stages.base.enabled;
  const base = isTinyBase ? hashKey({ stage: 'base', ...common, settings: stages.base }) : null;
  // The pretrained model itself (hf), or the untrained tiny model: the model config is the key.
  const baseModel = base ?? hashKey({ model: 'configured', ...common });
  const sft = stages.sft.enabled
    ? hashKey({ stage: 'sft', ...common, from: baseModel, settings: stages.sft, rehearsalView: stages.base.teacherViewFraction })
    : null;
  const sftModel = sft ?? baseModel;
  const opsd = stages.opsd.enabled
    ? hashKey({ stage: 'opsd', ...common, from: sftModel, teacher: baseModel, settings: stages.opsd, parser: config.parser, validation: validationOf(config) })
    : null;
  // Validation picks the checkpoint of every trained model, so it is part of their keys (selection.ts).
  const validation = validationOf(config);
  const visualSettings = { ...baselines.visualSft, steps: baselineSteps(config, 'visualSft') };
  const visualSft = baselines.visualSft.enabled ? hashKey({ stage: 'visual-sft', ...common, from: sftModel, settings: visualSettings, parser: config.parser, validation }) : null;
  const grpoSettings = { ...baselines.grpo, steps: baselineSteps(config, 'grpo') };
  const grpo = baselines.grpo.enabled ? hashKey({ stage: 'grpo', ...common, from: sftModel, settings: grpoSettings, parser: config.parser, validation }) : null;
  const models: Record<string, string> = { base: baseModel, sft: sftModel };
  if (opsd !== null) models.mgsd = opsd;
  if (visualSft !== null) models['visual-sft'] = visualSft;
  if (grpo !== null) models.grpo = grpo;
  return { dataset: datasetKey, base, sft, opsd, 'visual-sft': visualSft, grpo, models };
}

/** The validation (decoding, cadence) and the selection rule pick a trained model's checkpoint. */
function validationOf(config: ExperimentConfig): Record<string, unknown> {
  return { sampling: config.eval.validation, batchSize: config.eval.batchSize, selection: config.eval.selection };
}

/**
 * The key of a model's evaluation (its parts: `image`, `text`, `perception`, prefixed for an
 * out-of-distribution set): the model's key, the evaluated set (the run's dataset key, or the
 * imported set's key), the benchmark decoding and grading, and the perception source.
 */
export function evaluationKeyOf(config: ExperimentConfig, keys: StageKeys, model: string, parts: readonly string[], datasetKey: string = keys.dataset): string {
  // Which sets are evaluated out of distribution changes no single evaluation: each set has its own key.
  const { validation: _validation, selection: _selection, outOfDistribution: _sets, ...decoding } = config.eval;
  return hashKey({
    evaluation: [...parts],
    weights: keys.models[model],
    dataset: datasetKey,
    decoding,
    parser: config.parser,
    common: commonOf(config),
    perceptionSource: parts.includes('perception') ? config.stages.sft.target : null,
    code: codeVersion(),
  });
}

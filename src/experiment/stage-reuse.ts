/**
 * Stage reuse inside one run: before a stage (or a model's evaluation) computes, look for it in the
 * stage cache under its key; on a hit, place the cached checkpoint and logs in this run and record
 * where they came from; after a fresh computation, publish it for later runs.
 *
 * A reused stage lives in the run like a computed one — `checkpoints/<stage>/reused-<key16>/`
 * (hard links), `metrics/<stage>.jsonl` and `ledger/<stage>.jsonl` (copies), `latest.json` and a
 * `run-state.json` entry — plus `reusedFrom` (the source run and the cache folder), which the
 * progress line, the manifest and the report show. `reuse.enabled: false` (`--no-reuse`) skips the
 * lookup (every stage recomputes) but still publishes what the cache lacks.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { DataError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { ExperimentConfig } from './config.js';
import type { EvaluationPlan } from './evaluations.js';
import type { Progress } from './progress.js';
import type { RunDir } from './run-dir.js';
import { RunManifestSchema } from './run-files.js';
import type { FinishedStage, RunState } from './run-state.js';
import { placeTree, StageCache } from './stage-cache.js';
import { evaluationKeyOf, type StageKeys, stageKeysOf } from './stage-keys.js';

/** The stages that can be reused. */
export type ReusableStage = 'base' | 'sft' | 'opsd' | 'visual-sft' | 'grpo';

/**
 * Which evaluation set: the run's test split (the default) or another dataset, whose key replaces
 * the run's dataset key and whose file parts carry `partPrefix` (`ood-<set>-image`).
 */
export interface EvaluationTarget {
  datasetKey: string;
  partPrefix: string;
}

/** Where a reused stage or evaluation came from. */
export interface ReusedFrom {
  run: string;
  cache: string;
}

/** Stage reuse for one run. */
export class RunReuse {
  readonly keys: StageKeys;
  private readonly cache: StageCache;
  private readonly reusedEvaluations: Record<string, ReusedFrom> = {};

  constructor(
    private readonly config: ExperimentConfig,
    private readonly run: RunDir,
    private readonly state: RunState,
    private readonly progress: Progress,
    datasetKey: string,
  ) {
    this.keys = stageKeysOf(config, datasetKey);
    this.cache = new StageCache(config.reuse.cacheDir);
  }

  /**
   * Returns `stage` finished: from this run's state, from the cache, or by running `compute` (then
   * published). `compute` itself skips a stage the run state has, so resume is unchanged.
   */
  async stage(stage: ReusableStage, compute: () => Promise<FinishedStage>): Promise<FinishedStage> {
    const key = this.keys[stage];
    if (key === null || this.state.get(stage) !== null) return this.published(stage, key, await compute());
    const hit = this.config.reuse.enabled ? this.cache.lookup(stage, key) : null;
    if (hit === null) return this.published(stage, key, await compute());
    const relative = join('checkpoints', stage, `reused-${key.slice(0, 16)}`);
    const target = join(this.run.root, relative);
    rmSync(target, { recursive: true, force: true });
    placeTree(join(hit.dir, 'checkpoint'), target, 'link');
    const offsets = { metrics: copyLog(join(hit.dir, 'metrics.jsonl'), this.run.metrics(stage)), ledger: copyLog(join(hit.dir, 'ledger.jsonl'), this.run.ledger(stage)) };
    const stepsDone = hit.entry.stepsDone ?? 0;
    this.run.writeJson(join(this.run.checkpoints(stage), 'latest.json'), { stepsDone, dir: relative, logOffsets: offsets, state: {} });
    const selected = hit.entry.selected === undefined ? {} : { selected: hit.entry.selected };
    const finished: FinishedStage = { stepsDone, checkpoint: relative, reusedFrom: { run: hit.entry.sourceRun, cache: hit.dir }, ...selected };
    this.state.finish(stage, finished);
    this.progress.note(`[${stage}] reused (${stepsDone} steps) from ${hit.entry.sourceRun} via ${hit.dir}`);
    return finished;
  }

  /**
   * Returns `model`'s evaluation under `plan`: reused from the cache when this run lacks it and the
   * cache has it, then computed by `evaluate` (which reads back what the run's `eval/` holds), then
   * published.
   */
  async evaluation<T>(model: string, plan: EvaluationPlan, evaluate: () => Promise<T>, target: EvaluationTarget | null = null): Promise<T> {
    const from = this.restoreEvaluation(model, plan, target);
    if (from !== null) this.reusedEvaluations[target === null ? model : `${model}/${target.partPrefix.replace(/-$/, '')}`] = from;
    const result = await evaluate();
    this.publishEvaluation(model, plan, target);
    return result;
  }

  /** Adds the stage keys and what was reused (stages and evaluations) to the run's manifest. */
  recordInManifest(): void {
    const manifest: Record<string, unknown> = this.run.readFile(this.run.manifest, RunManifestSchema, 'run manifest', `Restore ${this.run.manifest}; it is written when the run starts.`);
    const stagesReused = Object.fromEntries(
      Object.entries(this.state.all()).flatMap(([stage, finished]) => (finished.reusedFrom ? [[stage, finished.reusedFrom]] : [])),
    );
    const earlier = (manifest.evaluations_reused ?? {}) as Record<string, ReusedFrom>;
    this.run.writeJson(this.run.manifest, {
      ...manifest,
      reuse: { enabled: this.config.reuse.enabled, cache_dir: this.cache.root },
      stage_keys: this.keys,
      stages_reused: stagesReused,
      evaluations_reused: { ...earlier, ...this.reusedEvaluations },
    });
  }

  /**
   * Places a cached evaluation of `model` under `plan` in this run's `eval/`, when the run lacks it
   * and the cache has it. Returns where it came from, or null.
   */
  private restoreEvaluation(model: string, plan: EvaluationPlan, target: EvaluationTarget | null): ReusedFrom | null {
    if (!this.config.reuse.enabled || this.keys.models[model] === undefined) return null;
    const parts = partsOf(plan, target);
    if (parts.every((part) => existsSync(this.summaryPath(model, part)))) return null;
    const hit = this.cache.lookup('eval', evaluationKeyOf(this.config, this.keys, model, parts, target?.datasetKey));
    if (hit === null) return null;
    for (const part of parts) {
      copyLog(join(hit.dir, `${part}.jsonl`), this.run.evaluation(model, part));
      copyRequired(join(hit.dir, `${part}.summary.json`), this.summaryPath(model, part));
    }
    this.progress.note(`[eval] ${model}: reused from ${hit.entry.sourceRun} via ${hit.dir}`);
    return { run: hit.entry.sourceRun, cache: hit.dir };
  }

  /** Publishes the finished evaluation of `model` under `plan` (a no-op when cached already). */
  private publishEvaluation(model: string, plan: EvaluationPlan, target: EvaluationTarget | null): void {
    if (this.keys.models[model] === undefined) return;
    const parts = partsOf(plan, target);
    const files: Record<string, { source: string; mode: 'copy' }> = {};
    for (const part of parts) {
      files[`${part}.summary.json`] = { source: this.summaryPath(model, part), mode: 'copy' };
      const responses = this.run.evaluation(model, part);
      if (existsSync(responses)) files[`${part}.jsonl`] = { source: responses, mode: 'copy' };
    }
    if (!parts.every((part) => existsSync(this.summaryPath(model, part)))) return;
    this.cache.publish('eval', evaluationKeyOf(this.config, this.keys, model, parts, target?.datasetKey), files, { stage: `eval:${model}`, sourceRun: this.run.root });
  }

  private published(stage: ReusableStage, key: string | null, finished: FinishedStage): FinishedStage {
    if (key === null || finished.reusedFrom !== undefined) return finished;
    const files: Record<string, { source: string; mode: 'link' | 'copy' }> = {
      checkpoint: { source: join(this.run.root, finished.checkpoint), mode: 'link' },
      'metrics.jsonl': { source: this.run.metrics(stage), mode: 'copy' },
    };
    if (existsSync(this.run.ledger(stage)) && statSync(this.run.ledger(stage)).size > 0) files['ledger.jsonl'] = { source: this.run.ledger(stage), mode: 'copy' };
    this.cache.publish(stage, key, files, { stage, sourceRun: this.run.root, stepsDone: finished.stepsDone, ...(finished.selected ? { selected: finished.selected } : {}) });
    return finished;
  }

  private summaryPath(model: string, part: string): string {
    return this.run.evaluation(model, part).replace(/\.jsonl$/, '.summary.json');
  }
}

/** The evaluation's file parts (`image`, `text`, `perception`), prefixed for a set other than the test split. */
function partsOf(plan: EvaluationPlan, target: EvaluationTarget | null): string[] {
  return [...plan.inputs, ...(plan.perception ? ['perception'] : [])].map((part) => `${target?.partPrefix ?? ''}${part}`);
}

/** Copies a log to `target` atomically (an empty log when the entry has none); returns its size. */
function copyLog(source: string, target: string): number {
  const bytes = existsSync(source) ? readFileSync(source) : Buffer.alloc(0);
  writeFileAtomic(target, bytes);
  return bytes.length;
}

/** Copies a file an entry must hold; a missing one means the cache folder was tampered with. */
function copyRequired(source: string, target: string): void {
  if (!existsSync(source)) {
    throw new DataError('stage_cache_incomplete', `stage cache entry ${dirname(source)} lacks ${basename(source)}`, {
      hint: `Delete ${dirname(source)} (it will be recomputed), or run with --no-reuse.`,
    });
  }
  writeFileAtomic(target, readFileSync(source));
}

/**
 * Shared set-up of the tests that drive `train/` loops and `experiment/` stages against real tiny
 * workers: a miniature config (the `tiny` preset shrunk to seconds), its dataset built by the real
 * builder into a temporary folder, and a run directory's services with a silent progress sink.
 *
 * Nothing here fakes the backend: workers are real Python processes started through
 * `BackendClient`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BackendClient } from '../../src/backend/client.js';
import { NO_PROGRESS } from '../../src/data/progress.js';
import type { ExperimentConfig } from '../../src/experiment/config.js';
import { ensureDataset, type DatasetStage } from '../../src/experiment/dataset-stage.js';
import { loadConfig } from '../../src/experiment/load.js';
import { Progress } from '../../src/experiment/progress.js';
import { RunDir } from '../../src/experiment/run-dir.js';
import type { RunServices } from '../../src/experiment/stage-runtime.js';

/** `--set` overrides that shrink the tiny preset to a run of seconds (same spirit as pipeline.test.ts). */
export function miniOverrides(cacheDir: string): string[] {
  return [
    'tasks.frozenlake.levels=[3]',
    'tasks.maze.levels=[3]',
    'tasks.minibehaviour.levels=[5]',
    ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 8, val: 2, test: 3}`),
    'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}',
    // A base trained from scratch at this size, not the preset's shipped base (another shape).
    'model.path=null',
    'stages.base={enabled: true, steps: 2, batchSize: 4}',
    'stages.sft={steps: 2, batchSize: 4}',
    'stages.opsd={steps: 2, batchSize: 4, checkpointEvery: 1, rollout: {maxNewTokens: 24}}',
    'baselines.visualSft={enabled: false}',
    'baselines.grpo={enabled: false}',
    'eval.maxNewTokens=24',
    'eval.validation.maxNewTokens=24',
    'eval.validation.every=2',
    // The published out-of-distribution sets would cost more than the rest of the run: ood.test.ts covers them.
    'eval.outOfDistribution=[]',
    `data.cacheDir=${cacheDir}`,
    // The stage cache beside the dataset cache, so tests never publish into the checkout's runs/.
    `reuse.cacheDir=${join(cacheDir, '..', 'stages')}`,
  ];
}

/** A scratch folder under the OS temp dir. */
export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `mgsd-${prefix}-`));
}

/** The miniature config and its dataset (built by the real builder into `work`). */
export function miniConfigAndDataset(work: string, extra: readonly string[] = []): { config: ExperimentConfig; data: DatasetStage } {
  const { config } = loadConfig('tiny', [...miniOverrides(join(work, 'datasets')), ...extra]);
  return { config, data: ensureDataset(config, null, NO_PROGRESS) };
}

/** Run-wide services over a fresh run directory, printing nothing. */
export function runServices(root: string): RunServices & { printed: string[] } {
  const printed: string[] = [];
  const run = new RunDir(root);
  run.create();
  return { run, progress: new Progress({ write: (text) => printed.push(text), isTty: false }), stop: { requested: false }, printed };
}

/** A client with one single-thread worker per name, logging into `logDir`. */
export function startWorkers(names: readonly string[], logDir: string): Promise<BackendClient> {
  const workers = Object.fromEntries(names.map((name) => [name, { threads: 1 }]));
  return BackendClient.start({ workers, logDir, startTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
}

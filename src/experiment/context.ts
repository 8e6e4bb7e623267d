/**
 * What every stage of `mgsd run` shares: the config, the run directory and its services, the
 * dataset split by use, the backend workers, and the persisted run state.
 */
import { join } from 'node:path';

import { type BackendOptions, BackendClient, type WorkerHandle } from '../backend/client.js';
import type { Dataset } from '../data/dataset.js';
import type { DataRecord } from '../data/schema.js';
import type { ImageSource } from '../rollout/views.js';
import type { LrSchedule } from '../train/schedule.js';
import { ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';
import type { EvaluationServices } from './evaluations.js';
import type { Placement } from './models.js';
import type { OodSet } from './ood-sets.js';
import type { RunState } from './run-state.js';
import type { RunServices } from './stage-runtime.js';
import { RunReuse } from './stage-reuse.js';

/** The shared state of one run. */
export interface PipelineContext {
  config: ExperimentConfig;
  services: RunServices;
  dataset: Dataset;
  splits: { train: DataRecord[]; val: DataRecord[]; test: DataRecord[] };
  client: BackendClient;
  placement: Placement;
  images: ImageSource;
  state: RunState;
  evaluation: EvaluationServices;
  /** The published sets evaluated out of distribution (`eval.outOfDistribution`; empty: none). */
  outOfDistribution: OodSet[];
  /** Stage keys and the stage cache (reuse of finished stages across runs). */
  reuse: RunReuse;
}

/** The worker serving `which` role family. */
export function workerFor(context: PipelineContext, which: 'student' | 'teacher' | 'baseline'): WorkerHandle {
  return context.client.worker(context.placement[which]);
}

/** Absolute path of a run-relative checkpoint directory. */
export function checkpointPath(context: PipelineContext, relative: string): string {
  return join(context.services.run.root, relative);
}

/** The learning-rate schedule of a stage config over `totalSteps`. */
export function scheduleOf(
  stage: { lr: number; schedule: 'cosine' | 'constant'; warmupSteps: number; minLrRatio: number },
  totalSteps: number,
): LrSchedule {
  return { lr: stage.lr, schedule: stage.schedule, warmupSteps: stage.warmupSteps, minLrRatio: stage.minLrRatio, totalSteps };
}

/** A dataset's records by split. */
export function splitsOf(dataset: Dataset): PipelineContext['splits'] {
  return {
    train: dataset.records.filter((r) => r.split === 'train'),
    val: dataset.records.filter((r) => r.split === 'val'),
    test: dataset.records.filter((r) => r.split === 'test'),
  };
}

/** Starts `workers` with the config's interpreter and timeouts, each logging into `logDir`. */
export function startWorkers(config: ExperimentConfig, workers: BackendOptions['workers'], logDir: string): Promise<BackendClient> {
  const { python, startTimeoutMs, requestTimeoutMs, heartbeatTimeoutMs, rendezvous } = config.backend;
  return BackendClient.start({ workers: withRendezvous(workers, rendezvous), logDir, python, startTimeoutMs, requestTimeoutMs, heartbeatTimeoutMs });
}

/** On several nodes, the one worker's group spans them (`mgsd join` starts the other nodes' ranks). */
function withRendezvous(workers: BackendOptions['workers'], rendezvous: ExperimentConfig['backend']['rendezvous']): BackendOptions['workers'] {
  if (rendezvous.nodes <= 1) return workers;
  const names = Object.keys(workers);
  if (names.length !== 1 || rendezvous.port === null) {
    throw new ConfigError('rendezvous_workers', `backend.rendezvous.nodes is ${rendezvous.nodes}, but this command starts ${names.length} workers (${names.join(', ')}); one group can span the nodes`, {
      hint: 'Set backend.separateTeacherWorker=false (and a backend.rendezvous.port) so that every role lives in one worker.',
    });
  }
  const name = names[0]!;
  return { [name]: { ...workers[name]!, rendezvous: { nodes: rendezvous.nodes, address: rendezvous.address, port: rendezvous.port } } };
}

/** The context of a run's stages over a started backend and a built dataset (`key`: its cache key). */
export function contextOf(
  base: Pick<PipelineContext, 'config' | 'services' | 'client' | 'placement' | 'dataset' | 'outOfDistribution'>,
  datasetKey: string,
  state: RunState,
  images: ImageSource,
): PipelineContext {
  const { config, services, dataset } = base;
  const splits = splitsOf(dataset);
  return {
    ...base,
    splits,
    images,
    state,
    evaluation: { config, run: services.run, images, test: splits.test, note: (message) => services.progress.note(message) },
    reuse: new RunReuse(config, services.run, state, services.progress, datasetKey),
  };
}

/**
 * `mgsd run`, as a sequence of named steps (DESIGN.md §1):
 *
 *   preflight → start workers → data → base (tiny) → [teacher loads base ∥ cold-start SFT]
 *        → evaluate base (teacher worker) ∥ evaluate SFT → [OPSD ∥ baselines] → evaluate → results
 *
 * Every evaluated model is also scored on the published out-of-distribution sets (image input; base
 * on text too, the upper bound) right after its test split, while it is loaded (`ood-evaluations.ts`).
 *
 * Work on different workers overlaps (`∥`): the frozen teacher evaluates the base model while the
 * student trains, and the baselines train in their own worker while OPSD runs. Every step is
 * skipped when the run state says it is finished, so `--resume` continues where a run stopped, and
 * every stage and evaluation whose key is in the stage cache is reused from it (`stage-reuse.ts`).
 */
import { availableParallelism } from 'node:os';

import { BackendError } from '../errors.js';
import { assembleResults, type ModelEvaluation, type ResultsFile } from '../eval/results.js';
import { ImageSource } from '../rollout/views.js';
import { startTrackerSink } from '../trackers/sink.js';
import { configuredBaseOf } from './base-card.js';
import type { ExperimentConfig } from './config.js';
import { cpuSecondsSoFar } from './cpu-time.js';
import { checkpointPath, contextOf, type PipelineContext, startWorkers, workerFor } from './context.js';
import { viewOptionsOf } from './run-options.js';
import { ensureDataset } from './dataset-stage.js';
import { evaluateModel, isEvaluated, type EvaluationPlan, type ModelHandle } from './evaluations.js';
import { runGrpoPipelineStage } from './grpo-stage.js';
import { loadRequest, placementOf } from './models.js';
import { withOutOfDistribution } from './ood-evaluations.js';
import { ensureOodSets } from './ood-sets.js';
import { loadFrozenTeacher, runOpsdPipelineStage, TEACHER_ROLE } from './opsd-stage.js';
import { checkDevices, checkMemoryPlan, checkPython, checkShardedBatches, updateRoundingWarnings } from './preflight.js';
import { selectionsOf } from './selection.js';
import { budgetWarnings } from './budgets.js';
import { type FinishedStage, RunState } from './run-state.js';
import type { RunServices } from './stage-runtime.js';
import { runBaseStage, runColdStartStage, runVisualSftStage } from './stages.js';
import { MODEL, STAGE } from '../names.js';

/** What `runPipeline` needs. */
export interface PipelineRequest {
  config: ExperimentConfig;
  /** Folder of the config file (relative benchmark paths), or null. */
  configDir: string | null;
  services: RunServices;
}

/** Runs (or resumes) the whole experiment; writes and returns `results.json`. */
export async function runPipeline(request: PipelineRequest): Promise<ResultsFile> {
  const started = performance.now();
  const cpuStarted = cpuSecondsSoFar();
  const { config, services } = request;
  const loadedBase = configuredBaseOf(config); // a damaged or mismatched base fails before any worker starts
  if (loadedBase !== null) services.progress.note(`[base] loading the pretrained base ${loadedBase.dir} (card sha256 ${loadedBase.cardSha256.slice(0, 12)}…)`);
  await checkPython(config);
  const sink = config.reportTo.length > 0 ? await startTrackerSink(services.run.root, config.reportTo, config.backend.python) : null;
  let results: ResultsFile;
  try {
    results = await runWithWorkers(request, started, cpuStarted);
  } catch (error) {
    // The run's own error is the one to report; a sink failure on the way out is in logs/trackers.log.
    await sink?.close().catch(() => undefined);
    throw error;
  }
  await sink?.close();
  return results;
}

async function runWithWorkers(request: PipelineRequest, started: number, cpuStarted: number | null): Promise<ResultsFile> {
  const { config, services } = request;
  const placement = placementOf(config);
  const described = Object.entries(placement.workers).map(([name, w]) => (w.ranks > 1 ? `${name} (${w.ranks} ranks)` : name));
  services.progress.note(`[backend] starting workers: ${described.join(', ')}`);
  const { nodes, address, port } = config.backend.rendezvous;
  if (nodes > 1) {
    services.progress.note(
      `[backend] the group spans ${nodes} nodes, meeting at ${address}:${port}: on node k = 1 … ${nodes - 1}, run \`npx mgsd join --node-rank k\` with this run's -c and --set`,
    );
  }
  const client = await startWorkers(config, placement.workers, services.run.logs);
  let evaluations: Array<[string, ModelEvaluation]>;
  let datasetDir: string;
  let selection: ResultsFile['selection'];
  try {
    checkDevices(client, config);
    // The plan is per GPU: the student's FSDP group shards weights, gradients and Adam state over its ranks.
    const studentRanks = placement.workers[placement.student]!.ranks * config.backend.rendezvous.nodes;
    checkShardedBatches(config, studentRanks);
    for (const line of [...updateRoundingWarnings(config), ...budgetWarnings(config), ...checkMemoryPlan(client, config, studentRanks)]) services.progress.note(line);
    const { dataset, key: datasetKey } = ensureDataset(config, request.configDir, services.progress);
    const outOfDistribution = ensureOodSets(config, request.configDir, dataset, services.progress);
    const context = contextOf({ config, services, client, placement, dataset, outOfDistribution }, datasetKey, new RunState(services.run), new ImageSource(viewOptionsOf(config)));
    evaluations = await runStages(context);
    selection = selectionsOf(context.state.all());
    context.reuse.recordInManifest();
    datasetDir = dataset.dir;
  } finally {
    await client.close();
  }
  // After close: every worker rank has been reaped, so its CPU time is in our children's total.
  const cpuEnded = cpuSecondsSoFar();
  const cpu = cpuStarted === null || cpuEnded === null ? null : cpuEnded - cpuStarted;
  const results = assembleResults(evaluations, runInfo(config, datasetDir), (performance.now() - started) / 1000, cpu, selection);
  services.run.writeJson(services.run.results, results);
  return results;
}

/**
 * The stages and evaluations; returns every model's evaluation in table order. When any branch
 * fails (a worker died or stalled, or the user stops the run), the others are asked to stop at
 * their next step and awaited, so every worker is idle — and every checkpoint complete — before the
 * workers are closed; the first failure is what the user sees, with how to resume.
 */
async function runStages(context: PipelineContext): Promise<Array<[string, ModelEvaluation]>> {
  const branches: Array<Promise<unknown>> = [];
  const branch = <T>(promise: Promise<T>): Promise<T> => {
    promise.catch(() => undefined); // surfaced when awaited below, never as an unhandled rejection
    branches.push(promise);
    return promise;
  };
  try {
    return await runBranches(context, branch);
  } catch (error) {
    context.services.stop.requested = true;
    await Promise.allSettled(branches);
    throw withResumeHint(error, context.services.run.root);
  }
}

/**
 * A backend error with how to continue this run: a dead or stalled worker's error gets the resume
 * command (the other branches have checkpointed); a worker hint naming `<run>` (full disk, damaged
 * checkpoint) gets this run's directory.
 */
function withResumeHint(error: unknown, root: string): unknown {
  if (!(error instanceof BackendError)) return error;
  const hint = error.hint?.replaceAll('<run>', root);
  if (!WORKER_LOST.has(error.code) && hint === error.hint) return error;
  return new BackendError(error.code, error.message, {
    cause: error.cause,
    context: error.context,
    hint: WORKER_LOST.has(error.code) ? `${hint ?? ''} Then continue from the last checkpoints with: npx mgsd run --resume ${root}`.trim() : hint,
  });
}

/** Codes of a worker that is gone (`worker-handle.ts`): the run can resume once the cause is fixed. */
const WORKER_LOST = new Set(['worker_died', 'worker_stalled']);

async function runBranches(context: PipelineContext, branch: <T>(promise: Promise<T>) => Promise<T>): Promise<Array<[string, ModelEvaluation]>> {
  const { config } = context;
  // base/text is the symbolic upper bound: always measured. The other models' text rows serve the
  // modality gap.
  const baseline: EvaluationPlan = { inputs: ['image', 'text'], perception: config.eval.perception };
  const full: EvaluationPlan = { inputs: config.eval.modalityGap ? ['image', 'text'] : ['image'], perception: config.eval.perception };
  const { reuse } = context;
  const base = config.model.kind === 'tiny' && config.stages.base.enabled ? await reuse.stage(STAGE.base, () => runAlone(context, () => runBaseStage(context))) : null;
  const teacherReady = branch(loadFrozenTeacher(context, base));
  const baseModel: ModelHandle = { name: MODEL.base, worker: workerFor(context, 'teacher'), role: TEACHER_ROLE };
  const baseEvaluation = branch(
    teacherReady
      .then(() => reuse.evaluation(MODEL.base, baseline, () => evaluateModel(context.evaluation, baseModel, baseline)))
      .then((evaluation) => withOutOfDistribution(context, baseModel, ['image', 'text'], async () => undefined, evaluation)),
  );
  const sft = config.stages.sft.enabled ? await reuse.stage(STAGE.sft, () => runColdStartStage(context, base)) : base;
  const evaluations: Array<[string, ModelEvaluation]> = [];
  const sftEvaluation = config.stages.sft.enabled ? await evaluateCheckpoint(context, MODEL.sft, sft, full) : null;
  const baselines = branch(runBaselines(context, sft));
  await teacherReady;
  const mgsd = config.stages.opsd.enabled ? await reuse.stage(STAGE.opsd, () => runOpsdPipelineStage(context, sft)) : null;
  const mgsdEvaluation = mgsd === null ? null : await evaluateCheckpoint(context, MODEL.mgsd, mgsd, full);
  evaluations.push([MODEL.base, await baseEvaluation]);
  if (sftEvaluation) evaluations.push([MODEL.sft, sftEvaluation]);
  if (mgsdEvaluation) evaluations.push([MODEL.mgsd, mgsdEvaluation]);
  evaluations.push(...(await baselines));
  return evaluations;
}

/**
 * Runs `work` on the student worker with every core: nothing else runs during the base stage. A
 * student of N ranks already spreads over N cores; each rank gets its share of the rest. (Also
 * `mgsd pretrain`'s training and evaluation.)
 */
export async function runAlone<T>(context: PipelineContext, work: () => Promise<T>): Promise<T> {
  const { backend } = context.config;
  const student = workerFor(context, 'student');
  const ranks = context.placement.workers[context.placement.student]!.ranks;
  await student.setThreads(backend.soloThreads ?? Math.max(1, Math.floor(availableParallelism() / ranks)));
  const result = await work(); // on failure the run ends: the thread count no longer matters
  await student.setThreads(backend.threadsPerWorker);
  return result;
}

/** The baselines, one after the other on the baseline worker (overlapping OPSD). */
async function runBaselines(context: PipelineContext, from: FinishedStage | null): Promise<Array<[string, ModelEvaluation]>> {
  const { baselines } = context.config;
  const plan: EvaluationPlan = { inputs: ['image'], perception: context.config.eval.perception };
  const out: Array<[string, ModelEvaluation]> = [];
  if (baselines.visualSft.enabled) {
    const stage = await context.reuse.stage(STAGE.visualSft, () => runVisualSftStage(context, from));
    // A direct-answer model writes no read-out: there is no perception to grade.
    const visualPlan = { ...plan, perception: plan.perception && baselines.visualSft.target === 'full' };
    out.push([MODEL.visualSft, await evaluateCheckpoint(context, MODEL.visualSft, stage, visualPlan, 'baseline')]);
  }
  if (baselines.grpo.enabled) {
    const stage = await context.reuse.stage(STAGE.grpo, () => runGrpoPipelineStage(context, from));
    out.push([MODEL.grpo, await evaluateCheckpoint(context, MODEL.grpo, stage, plan, 'baseline')]);
  }
  return out;
}

/**
 * Loads a stage's final checkpoint, frozen, and evaluates it. On the student worker it replaces the
 * `student` role (the next stage reloads it), so a GPU never holds more copies than it must.
 */
async function evaluateCheckpoint(
  context: PipelineContext,
  model: string,
  stage: FinishedStage | null,
  plan: EvaluationPlan,
  where: 'student' | 'baseline' = 'student',
): Promise<ModelEvaluation> {
  const worker = workerFor(context, where);
  const role = where === 'student' ? 'student' : model;
  const handle: ModelHandle = { name: model, worker, role };
  let loading: Promise<void> | null = null; // loaded at most once, and only when something is computed
  const load = (): Promise<void> =>
    (loading ??= worker.load(loadRequest(context.config, role, stage === null ? null : checkpointPath(context, stage.checkpoint), null)).then(() => undefined));
  const evaluation = await context.reuse.evaluation(model, plan, async () => {
    if (!isEvaluated(context.evaluation, model, plan)) await load();
    return evaluateModel(context.evaluation, handle, plan);
  });
  return withOutOfDistribution(context, handle, ['image'], load, evaluation);
}

function runInfo(config: ExperimentConfig, datasetDir: string): ResultsFile['run'] {
  return { name: config.name, seed: config.seed, profile: config.profile, model: config.model.kind === 'tiny' ? 'tiny' : config.model.path!, dataset: datasetDir };
}

/**
 * The GRPO baseline stage of `mgsd run`: from the cold-start checkpoint, reinforcement learning on
 * the simulator's success reward, at least OPSD's training samples unless configured; validated and
 * selected like every trained model (`selection.ts`).
 */
import { runGrpoStage } from '../train/grpo.js';
import { checkpointPath, type PipelineContext, scheduleOf, workerFor } from './context.js';
import { gradingOf, viewOptionsOf } from './run-options.js';
import { loadRequest } from './models.js';
import type { FinishedStage } from './run-state.js';
import { selectedStage, stageValidation } from './selection.js';
import { baselineSteps } from './budgets.js';
import { openStage } from './stage-runtime.js';
import { interrupted } from './supervised-stages.js';
import { MODEL, STAGE } from '../names.js';

export const GRPO_ROLE = STAGE.grpo;

/** Runs (or resumes, or skips) the GRPO baseline from `from`. */
export async function runGrpoPipelineStage(context: PipelineContext, from: FinishedStage | null): Promise<FinishedStage> {
  const finished = context.state.get(STAGE.grpo);
  if (finished) return finished;
  const { config, services } = context;
  const settings = config.baselines.grpo;
  const steps = baselineSteps(config, 'grpo');
  const worker = workerFor(context, 'baseline');
  const runtime = openStage(services, STAGE.grpo, steps, worker, GRPO_ROLE);
  const init = runtime.resumed?.dir ?? from?.checkpoint ?? null;
  await worker.load(
    loadRequest(config, GRPO_ROLE, init === null ? null : checkpointPath(context, init), { weightDecay: settings.weightDecay }, { restoreOptimizer: runtime.resumed !== null }),
  );
  const outcome = await runGrpoStage(
    {
      stage: STAGE.grpo,
      worker,
      role: GRPO_ROLE,
      records: context.splits.train,
      viewOptions: viewOptionsOf(config),
      images: context.images,
      grading: gradingOf(config),
      groupSize: settings.groupSize,
      clip: settings.clip,
      rollout: settings.rollout,
      schedule: scheduleOf(settings, steps),
      gradClip: settings.gradClip,
      microBatchSize: config.backend.microBatchSize,
      batchSize: settings.batchSize,
      seed: config.seed,
      startStep: runtime.startStep,
      checkpointEvery: Math.max(1, Math.ceil(steps / 4)),
      validation: stageValidation(context, STAGE.grpo, runtime, { name: MODEL.grpo, worker, role: GRPO_ROLE }),
    },
    runtime.io,
  );
  runtime.close({ steps: outcome.stepsDone });
  if (outcome.interrupted) throw interrupted(STAGE.grpo, outcome.stepsDone, services.run.root);
  const result = selectedStage(context, STAGE.grpo, runtime, outcome.stepsDone);
  context.state.finish(STAGE.grpo, result);
  return result;
}

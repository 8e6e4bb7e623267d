/**
 * The OPSD stage of `mgsd run`: load the student (from the cold-start checkpoint, or its own latest
 * checkpoint when resuming), pick the teacher source from the config, validate every
 * `validateEvery` steps with the official validation decoding, keep the best checkpoint by
 * task-macro success, and record it as the `mgsd` model.
 */
import { evaluateRecords } from '../eval/benchmark.js';
import type { SerializedRollouts } from '../rollout/serialize.js';
import { runDistillStage } from '../train/distill.js';
import type { TeacherSource } from '../train/teacher.js';
import { checkpointPath, gradingOf, type PipelineContext, scheduleOf, viewOptionsOf, workerFor } from './context.js';
import { evalContext } from './evaluations.js';
import { loadRequest } from './models.js';
import type { FinishedStage } from './run-state.js';
import { openStage } from './stage-runtime.js';
import { interrupted } from './supervised-stages.js';
import { STAGE } from '../names.js';

export const TEACHER_ROLE = 'teacher';
const LIVE_TEACHER_ROLE = 'live-teacher';

/** Loads the frozen teacher: the base checkpoint (tiny) or the configured pretrained model (hf). */
export async function loadFrozenTeacher(context: PipelineContext, base: FinishedStage | null): Promise<void> {
  const checkpoint = base === null ? null : checkpointPath(context, base.checkpoint);
  await workerFor(context, 'teacher').load(loadRequest(context.config, TEACHER_ROLE, checkpoint, null));
}

/** Runs (or resumes, or skips) OPSD from the cold-start checkpoint `from`. */
export async function runOpsdPipelineStage(context: PipelineContext, from: FinishedStage | null): Promise<FinishedStage> {
  const finished = context.state.get(STAGE.opsd);
  if (finished) return finished;
  const { config, services } = context;
  const settings = config.stages.opsd;
  const student = workerFor(context, 'student');
  const runtime = openStage(services, STAGE.opsd, settings.steps, student, 'student');
  const init = runtime.resumed?.dir ?? from?.checkpoint ?? null;
  await student.load(
    loadRequest(config, 'student', init === null ? null : checkpointPath(context, init), { weightDecay: settings.weightDecay }, { restoreOptimizer: runtime.resumed !== null }),
  );
  if (runtime.resumed) services.progress.note(`[opsd] resuming after step ${runtime.startStep}`);
  const teacher = await teacherSource(context);
  let bestScore = runtime.checkpoints.best()?.score ?? -Infinity;
  const validationContext = evalContext(context.evaluation, { name: 'student', worker: student, role: 'student' });
  const outcome = await runDistillStage(
    {
      stage: STAGE.opsd,
      student,
      studentRole: 'student',
      teacher,
      teacherView: settings.teacher.seesReferencePlan ? 'teacher' : 'teacher-no-plan',
      records: context.splits.train,
      lookup: (id) => context.dataset.byId.get(id)!,
      viewOptions: viewOptionsOf(config),
      images: context.images,
      grading: gradingOf(config),
      estimator: settings.estimator,
      topk: settings.topk,
      clip: settings.clip,
      rollout: settings.rollout,
      schedule: scheduleOf(settings, settings.steps),
      gradClip: settings.gradClip,
      microBatchSize: config.backend.microBatchSize,
      batchSize: settings.batchSize,
      seed: config.seed,
      startStep: runtime.startStep,
      checkpointEvery: settings.checkpointEvery,
      overlap: settings.overlap && teacher.kind === 'worker',
      pendingRollouts: (runtime.resumed?.state.pendingRollouts as SerializedRollouts | null | undefined) ?? null,
      validateEvery: settings.validateEvery,
      validate: async (stepsDone) => {
        const validation = config.eval.validation;
        const { summary } = await evaluateRecords(context.splits.val, 'student', {
          ...validationContext,
          temperature: validation.temperature,
          topP: validation.topP,
          maxNewTokens: validation.maxNewTokens,
          seed: config.seed + stepsDone,
        });
        const score = summary.macro.success;
        const perTask = Object.fromEntries(summary.tasks.map((task) => [`val_${task.task}`, task.levelBalanced.success]));
        runtime.logs.metrics.append([{ stage: STAGE.opsd, step: stepsDone, kind: 'validation', val_macro_success: score, ...perTask }]);
        const isBest = score > bestScore;
        if (isBest) bestScore = score;
        return isBest;
      },
      markBest: () => runtime.checkpoints.markBest(runtime.checkpoints.latest()!, bestScore),
    },
    runtime.io,
  );
  runtime.close({ steps: outcome.stepsDone, best_val_success: bestScore });
  if (outcome.interrupted) throw interrupted(STAGE.opsd, outcome.stepsDone, services.run.root);
  const chosen = runtime.checkpoints.best() ?? runtime.checkpoints.latest()!;
  const result = { stepsDone: outcome.stepsDone, checkpoint: chosen.dir };
  context.state.finish(STAGE.opsd, result);
  return result;
}

/** Where the teacher's log-probs come from, per `stages.opsd.teacher.kind` and the placement. */
async function teacherSource(context: PipelineContext): Promise<TeacherSource> {
  if (context.config.stages.opsd.teacher.kind === 'live-student') {
    await workerFor(context, 'student').load({ role: LIVE_TEACHER_ROLE, alias_of: 'student' });
    return { kind: 'in-process', role: LIVE_TEACHER_ROLE };
  }
  return context.placement.isTeacherSeparate
    ? { kind: 'worker', worker: workerFor(context, 'teacher'), role: TEACHER_ROLE }
    : { kind: 'in-process', role: TEACHER_ROLE };
}

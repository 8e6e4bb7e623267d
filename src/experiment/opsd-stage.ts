/**
 * The OPSD stage of `mgsd run`: load the student (from the cold-start checkpoint, or its own latest
 * checkpoint when resuming), pick the teacher source from the config, validate and select the
 * checkpoint by the rule every trained model shares (`selection.ts`: `eval.validation`,
 * `eval.selection`), and record it as the `mgsd` model.
 */
import type { SerializedRollouts } from '../rollout/serialize.js';
import { runDistillStage } from '../train/distill.js';
import type { TeacherSource } from '../train/teacher.js';
import { checkpointPath, type PipelineContext, scheduleOf, workerFor } from './context.js';
import { gradingOf, viewOptionsOf } from './run-options.js';
import { loadRequest } from './models.js';
import type { FinishedStage } from './run-state.js';
import { selectedStage, stageValidation } from './selection.js';
import { openStage } from './stage-runtime.js';
import { interrupted } from './supervised-stages.js';
import { MODEL, STAGE } from '../names.js';

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
      validation: stageValidation(context, STAGE.opsd, runtime, { name: MODEL.mgsd, worker: student, role: 'student' }),
    },
    runtime.io,
  );
  runtime.close({ steps: outcome.stepsDone });
  if (outcome.interrupted) throw interrupted(STAGE.opsd, outcome.stepsDone, services.run.root);
  const result = selectedStage(context, STAGE.opsd, runtime, outcome.stepsDone);
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

/**
 * The training loops of `train/` on real tiny workers. The OPSD loop (`train/distill.ts`) runs (a student and a frozen teacher, each its
 * own process), wired to a real run directory through `experiment/stage-runtime.ts`:
 * - a 4-step run logs one metrics line per step and one ledger row per rollout, with the policy step
 *   one behind in overlap mode, and checkpoints when due and when validation finds a new best;
 * - a stop request after step 1 checkpoints at once (with the rollouts already sampled for step 2),
 *   and reopening the stage resumes from there — logs cut back, pending rollouts reused — to exactly
 *   the metrics and ledger of the uninterrupted run.
 * The GRPO loop (`train/grpo.ts`) samples a group of responses per prompt, logs and checkpoints when due.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BackendClient, WorkerHandle } from '../../src/backend/client.js';
import type { ExperimentConfig } from '../../src/experiment/config.js';
import { gradingOf, viewOptionsOf } from '../../src/experiment/run-options.js';
import type { DatasetStage } from '../../src/experiment/dataset-stage.js';
import { loadRequest } from '../../src/experiment/models.js';
import { openStage } from '../../src/experiment/stage-runtime.js';
import type { SerializedRollouts } from '../../src/rollout/serialize.js';
import { ImageSource } from '../../src/rollout/views.js';
import { type DistillStagePlan, runDistillStage } from '../../src/train/distill.js';
import { runGrpoStage } from '../../src/train/grpo.js';
import { miniConfigAndDataset, runServices, scratch, startWorkers } from '../helpers/tiny-setup.js';

const STEPS = 4;
const BATCH = 4;

function lines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A log without its wall-clock fields (`*_seconds`). */
function stable(path: string): unknown[] {
  return lines(path).map((line) => Object.fromEntries(Object.entries(line).filter(([key]) => !key.endsWith('_seconds'))));
}

describe('OPSD loop on real tiny workers', () => {
  const work = scratch('distill');
  let client: BackendClient;
  let student: WorkerHandle;
  let config: ExperimentConfig;
  let data: DatasetStage;

  beforeAll(async () => {
    ({ config, data } = miniConfigAndDataset(work));
    client = await startWorkers(['student', 'teacher'], join(work, 'logs'));
    student = client.worker('student');
    await client.worker('teacher').load(loadRequest(config, 'teacher', null, null, { seed: 1 }));
  });
  afterAll(async () => {
    await client?.close();
  });

  /** The plan of a 4-step overlapped OPSD run of `role`, validating every 2 steps. */
  function planFor(role: string, startStep: number, pending: SerializedRollouts | null, validations: number[]): DistillStagePlan {
    const train = data.dataset.records.filter((record) => record.split === 'train');
    return {
      stage: 'opsd',
      student,
      studentRole: role,
      teacher: { kind: 'worker', worker: client.worker('teacher'), role: 'teacher' },
      teacherView: 'teacher',
      records: train,
      lookup: (id) => data.dataset.byId.get(id)!,
      viewOptions: viewOptionsOf(config),
      images: new ImageSource(viewOptionsOf(config)),
      grading: gradingOf(config),
      estimator: 'full',
      topk: 4,
      clip: { low: 0.2, high: 0.28, dual: 3 },
      rollout: { temperature: 1, topP: 1, maxNewTokens: 24 },
      schedule: { lr: 1e-3, schedule: 'constant', warmupSteps: 0, minLrRatio: 0, totalSteps: STEPS },
      gradClip: 1,
      batchSize: BATCH,
      seed: 5,
      startStep,
      checkpointEvery: 3,
      overlap: true,
      pendingRollouts: pending,
      validation: {
        every: 2,
        // Step 2 is a new best, step 4 is not: the best checkpoint must stay at step 2.
        validate: async (stepsDone) => {
          validations.push(stepsDone);
          return stepsDone === 2;
        },
        markBest: () => undefined,
      },
    };
  }

  async function loadStudent(role: string, checkpoint: string | null): Promise<void> {
    await student.load(loadRequest(config, role, checkpoint, { weightDecay: 0 }, { seed: 2, restoreOptimizer: checkpoint !== null }));
  }

  it('logs every step and rollout, and checkpoints when due or best, with pending rollouts kept', async () => {
    const services = runServices(join(work, 'whole'));
    await loadStudent('whole', null);
    const runtime = openStage(services, 'opsd', STEPS, student, 'whole');
    const validations: number[] = [];
    const saved: Array<{ stepsDone: number; pending: number | null }> = [];
    const io = {
      ...runtime.io,
      checkpoint: async (stepsDone: number, state: Record<string, unknown>) => {
        const pending = state.pendingRollouts as SerializedRollouts | null;
        saved.push({ stepsDone, pending: pending === null ? null : pending.ids.length });
        await runtime.io.checkpoint(stepsDone, state);
      },
    };
    const outcome = await runDistillStage(planFor('whole', 0, null, validations), io);
    runtime.close();

    expect(outcome).toEqual({ stepsDone: STEPS, interrupted: false });
    expect(validations).toEqual([2, 4]);
    // Step 2 (best), 3 (every 3) and 4 (the last) checkpoint; only the last has no next batch sampled.
    expect(saved).toEqual([
      { stepsDone: 2, pending: BATCH },
      { stepsDone: 3, pending: BATCH },
      { stepsDone: 4, pending: null },
    ]);
    const metrics = lines(services.run.metrics('opsd'));
    expect(metrics.map((line) => line.step)).toEqual([1, 2, 3, 4]);
    for (const line of metrics) {
      expect(line).toMatchObject({ stage: 'opsd', lr: 1e-3 });
      for (const key of ['loss', 'kl', 'grad_norm', 'reward_success', 'parse_rate', 'response_tokens_mean']) {
        expect(Number.isFinite(line[key]), `${key} of step ${String(line.step)}`).toBe(true);
      }
    }
    const ledger = lines(services.run.ledger('opsd'));
    expect(ledger).toHaveLength(STEPS * BATCH);
    // Overlap: the rollouts of step k were sampled by the weights after step k-2 (never negative).
    expect(ledger.map((row) => row.policy_step)).toEqual([0, 0, 1, 2].flatMap((p) => Array<number>(BATCH).fill(p)));
    expect(ledger.map((row) => row.step)).toEqual([1, 2, 3, 4].flatMap((p) => Array<number>(BATCH).fill(p)));
    for (const row of ledger) expect((row.response_ids as number[]).length).toBeGreaterThan(0);
    expect(runtime.checkpoints.latest()).toMatchObject({ stepsDone: 4, state: { pendingRollouts: null } });
  }, 120_000);

  it('a stop request checkpoints at once and the resumed stage reproduces the uninterrupted run', async () => {
    const root = join(work, 'stopped');
    const services = runServices(root);
    await loadStudent('first', null);
    const first = openStage(services, 'opsd', STEPS, student, 'first');
    const io = {
      ...first.io,
      logMetrics: (step: number, values: Record<string, number | string | null>) => {
        first.io.logMetrics(step, values);
        services.stop.requested = true; // Ctrl-C during step 1: the loop must stop before step 2.
      },
    };
    const stopped = await runDistillStage(planFor('first', 0, null, []), io);
    first.close();
    expect(stopped).toEqual({ stepsDone: 1, interrupted: true });
    const pointer = first.checkpoints.latest()!;
    expect(pointer.stepsDone).toBe(1);
    expect((pointer.state.pendingRollouts as SerializedRollouts).ids).toHaveLength(BATCH);

    // A stray line after the checkpoint (a crash between append and checkpoint) must be cut away.
    appendFileSync(services.run.metrics('opsd'), `${JSON.stringify({ stage: 'opsd', step: 99, stray: true })}\n`);
    services.stop.requested = false;
    const second = openStage(services, 'opsd', STEPS, student, 'second');
    expect(second.startStep).toBe(1);
    await loadStudent('second', join(root, second.resumed!.dir));
    const pending = second.resumed!.state.pendingRollouts as SerializedRollouts;
    const resumed = await runDistillStage(planFor('second', second.startStep, pending, []), second.io);
    second.close();

    expect(resumed).toEqual({ stepsDone: STEPS, interrupted: false });
    const whole = join(work, 'whole');
    expect(stable(services.run.metrics('opsd'))).toEqual(stable(join(whole, 'metrics', 'opsd.jsonl')));
    expect(stable(services.run.ledger('opsd'))).toEqual(stable(join(whole, 'ledger', 'opsd.jsonl')));
  }, 120_000);

  it('GRPO samples a group of responses per prompt, logs each step and rollout, and checkpoints when due', async () => {
    const services = runServices(join(work, 'grpo'));
    await loadStudent('grpo', null);
    const runtime = openStage(services, 'grpo', 3, student, 'grpo');
    const saved: number[] = [];
    const io = { ...runtime.io, checkpoint: async (stepsDone: number, state: Record<string, unknown>) => (saved.push(stepsDone), runtime.io.checkpoint(stepsDone, state)) };
    const base = planFor('grpo', 0, null, []);
    const outcome = await runGrpoStage(
      { ...base, worker: student, role: 'grpo', groupSize: 2, batchSize: 4, checkpointEvery: 2, schedule: { ...base.schedule, totalSteps: 3 } },
      io,
    );
    runtime.close();
    expect(outcome).toEqual({ stepsDone: 3, interrupted: false });
    expect(saved).toEqual([2, 3]);
    expect(lines(services.run.metrics('grpo')).map((line) => line.step)).toEqual([1, 2, 3]);
    for (const line of lines(services.run.metrics('grpo'))) expect(Number.isFinite(line.loss)).toBe(true);
    const ledger = lines(services.run.ledger('grpo'));
    expect(ledger).toHaveLength(3 * 4);
    // Rows come in groups of two answers to the same prompt, sampled by the current weights.
    for (let i = 0; i < ledger.length; i += 2) expect(ledger[i]!.sample_id).toBe(ledger[i + 1]!.sample_id);
    expect(ledger.map((row) => row.policy_step)).toEqual([0, 1, 2].flatMap((p) => [p, p, p, p]));
    expect(ledger.every((row) => row.log_ratio === null)).toBe(true);
  }, 120_000);
});

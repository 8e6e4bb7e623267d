/**
 * Wiring one training stage to its run directory: its append-only logs, its checkpoints, the
 * progress line and the stop flag — the `StageIo` that `train/` loops talk to. Opening a stage that
 * has a checkpoint resumes it: the logs are cut back to the checkpoint's offsets, and the loop
 * starts from its step with its saved state.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { WorkerHandle } from '../backend/client.js';
import type { StageIo } from '../train/stage-io.js';
import { AppendLog } from './append-log.js';
import { type CheckpointPointer, StageCheckpoints } from './checkpoints.js';
import type { Progress } from './progress.js';
import type { RunDir } from './run-dir.js';

/** Run-wide services every stage shares. */
export interface RunServices {
  run: RunDir;
  progress: Progress;
  /** Set when the user asks to stop (Ctrl-C): loops checkpoint and return. */
  stop: { requested: boolean };
}

/** An opened stage. */
export interface StageRuntime {
  io: StageIo;
  checkpoints: StageCheckpoints;
  /** The checkpoint being resumed from (null for a fresh start). */
  resumed: CheckpointPointer | null;
  startStep: number;
  logs: { metrics: AppendLog; ledger: AppendLog };
  close(summary?: Record<string, number | string>): void;
}

/** Opens `stage` (training `role` on `worker`, `total` steps), resuming from its latest checkpoint. */
export function openStage(services: RunServices, stage: string, total: number, worker: WorkerHandle, role: string): StageRuntime {
  const { run } = services;
  const checkpoints = new StageCheckpoints(run, stage);
  const resumed = checkpoints.latest();
  for (const path of [run.metrics(stage), run.ledger(stage)]) mkdirSync(dirname(path), { recursive: true });
  const logs = { metrics: AppendLog.open(run.metrics(stage)), ledger: AppendLog.open(run.ledger(stage)) };
  if (resumed) {
    logs.metrics.truncateTo(resumed.logOffsets.metrics);
    logs.ledger.truncateTo(resumed.logOffsets.ledger);
  } else {
    logs.metrics.truncateTo(0);
    logs.ledger.truncateTo(0);
  }
  const startStep = resumed?.stepsDone ?? 0;
  const bar = services.progress.stage(stage, total, startStep);
  const io: StageIo = {
    progress: (stepsDone, metrics) => bar.update(stepsDone, metrics),
    logMetrics: (step, values) => logs.metrics.append([{ stage, step, ...values }]),
    logLedger: (rows) => logs.ledger.append(rows),
    shouldStop: () => services.stop.requested,
    checkpoint: async (stepsDone, state) => {
      await checkpoints.save(worker, role, stepsDone, logs, state);
    },
  };
  return {
    io,
    checkpoints,
    resumed,
    startStep,
    logs,
    close: (summary) => {
      bar.done(summary);
      logs.metrics.close();
      logs.ledger.close();
    },
  };
}

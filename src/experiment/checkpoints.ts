/**
 * Stage checkpoints: the worker saves weights + optimizer into `checkpoints/<stage>/step-<n>/`
 * (atomically, on the Python side); then `latest.json` — the loop state and the byte length of the
 * stage's logs — is replaced atomically. A crash between the two leaves `latest.json` pointing at
 * the previous complete checkpoint. `best.json` marks the checkpoint with the best validation
 * score, which pruning never removes.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { WorkerHandle } from '../backend/client.js';
import type { AppendLog } from './append-log.js';
import { CheckpointPointerSchema } from './run-files.js';
import type { RunDir } from './run-dir.js';

/** The manifest the worker writes into every checkpoint (MANIFEST_FILE in py_backend/mgsd_backend/checkpoint.py). */
export const CHECKPOINT_MANIFEST = 'mgsd-checkpoint.json';

/** What `latest.json` / `best.json` hold. */
export interface CheckpointPointer {
  stepsDone: number;
  /** Checkpoint directory, relative to the run root. */
  dir: string;
  /** Byte lengths of the stage's logs when the checkpoint was taken. */
  logOffsets: { metrics: number; ledger: number };
  /** Loop state (e.g. rollouts already sampled for the next step). */
  state: Record<string, unknown>;
  /** Validation score, for `best.json`. */
  score?: number;
  /** How the worker wrote it: `full` (one process) or `dcp` (sharded, resumable at any rank count). */
  layout?: 'full' | 'dcp' | 'hub';
  /** dcp: sha256 of DCP's pickled `.metadata`, also in the checkpoint's own manifest and checked before loading. */
  metadataSha256?: string;
}

/** The checkpoints of one stage. */
export class StageCheckpoints {
  constructor(
    private readonly run: RunDir,
    readonly stage: string,
    private readonly keep = 2,
  ) {}

  private get folder(): string {
    return this.run.checkpoints(this.stage);
  }

  /** The latest complete checkpoint, if any. */
  latest(): CheckpointPointer | null {
    return this.read('latest.json');
  }

  /** The best-validated checkpoint, if any. */
  best(): CheckpointPointer | null {
    return this.read('best.json');
  }

  /** Absolute path of a pointer's directory. */
  absolute(pointer: CheckpointPointer): string {
    return join(this.run.root, pointer.dir);
  }

  /** Saves `role` of `worker` after `stepsDone` steps and makes it the latest checkpoint. */
  async save(
    worker: WorkerHandle,
    role: string,
    stepsDone: number,
    logs: { metrics: AppendLog; ledger: AppendLog },
    state: Record<string, unknown>,
    includeOptimizer = true,
  ): Promise<CheckpointPointer> {
    const dir = join('checkpoints', this.stage, `step-${String(stepsDone).padStart(6, '0')}`);
    const saved = await worker.save({ role, dir: join(this.run.root, dir), include_optimizer: includeOptimizer });
    const { layout, metadata_sha256: metadataSha256 } = saved.result;
    const pointer: CheckpointPointer = {
      stepsDone,
      dir,
      logOffsets: { metrics: logs.metrics.size(), ledger: logs.ledger.size() },
      state,
      layout,
      ...(metadataSha256 === undefined ? {} : { metadataSha256 }),
    };
    this.run.writeJson(join(this.folder, 'latest.json'), pointer);
    this.prune();
    return pointer;
  }

  /** Marks `pointer` (a saved checkpoint) as the best one. */
  markBest(pointer: CheckpointPointer, score: number): void {
    this.run.writeJson(join(this.folder, 'best.json'), { ...pointer, score });
  }

  /** Removes step directories other than the newest `keep` and the best. */
  private prune(): void {
    const protectedDirs = new Set([this.latest()?.dir, this.best()?.dir].filter((dir): dir is string => dir !== undefined));
    const steps = readdirSync(this.folder)
      .filter((name) => name.startsWith('step-'))
      .sort();
    for (const name of steps.slice(0, Math.max(0, steps.length - this.keep))) {
      const relative = join('checkpoints', this.stage, name);
      if (!protectedDirs.has(relative)) rmSync(join(this.run.root, relative), { recursive: true, force: true });
    }
  }

  private read(file: string): CheckpointPointer | null {
    const path = join(this.folder, file);
    if (!existsSync(path)) return null;
    const remedy = `Restore ${path}, or delete it so that \`mgsd run --resume ${this.run.root}\` restarts stage ${this.stage} from its beginning.`;
    return this.run.readFile(path, CheckpointPointerSchema, `${this.stage} checkpoint pointer`, remedy);
  }
}

/**
 * `run-state.json`: which stages of a run are finished and where their final checkpoints are.
 * Written atomically after each stage, read by `--resume` to skip finished work (validated by
 * `RunStateSchema`, so a damaged file names itself).
 */
import type { RunDir } from './run-dir.js';

/** A finished stage. */
export interface FinishedStage {
  stepsDone: number;
  /** The checkpoint the next stages start from, relative to the run root. */
  checkpoint: string;
  /** Set when the stage was reused from the stage cache: the run that computed it and the cache folder. */
  reusedFrom?: { run: string; cache: string };
}

/** The persisted progress of a run. */
export class RunState {
  private readonly finished: Record<string, FinishedStage>;

  constructor(private readonly run: RunDir) {
    this.finished = run.readState().stages;
  }

  /** The finished stage, or null. */
  get(stage: string): FinishedStage | null {
    return this.finished[stage] ?? null;
  }

  /** Every finished stage, by name. */
  all(): Readonly<Record<string, FinishedStage>> {
    return this.finished;
  }

  /** Records `stage` as finished. */
  finish(stage: string, value: FinishedStage): void {
    this.finished[stage] = value;
    this.run.writeJson(this.run.state, { stages: this.finished });
  }
}

/**
 * `run-state.json`: which stages of a run are finished and where their final checkpoints are.
 * Written atomically after each stage, read by `--resume` to skip finished work (validated by
 * `RunStateSchema`, so a damaged file names itself).
 */
import type { RunDir } from './run-dir.js';

/** Which checkpoint of a trained model's stage was chosen (`eval.selection`, selection.ts). */
export interface StageSelection {
  rule: 'best-val' | 'last';
  /** Steps done at the chosen checkpoint. */
  step: number;
  /** Its validation macro success (null when no validation ran at that step). */
  valSuccess: number | null;
}

/** A finished stage. */
export interface FinishedStage {
  stepsDone: number;
  /** The checkpoint the next stages start from (or the model is evaluated at), relative to the run root. */
  checkpoint: string;
  /** Trained models of the table (OPSD, baselines): the selected checkpoint. */
  selected?: StageSelection;
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

/**
 * Learning-rate schedules, computed on the TypeScript side and sent with every step request, so the
 * Python worker keeps no scheduler state and a resumed run gets exactly the same rates.
 */

/** The schedule of one training stage. */
export interface LrSchedule {
  /** Peak learning rate. */
  lr: number;
  schedule: 'cosine' | 'constant';
  /** Linear warm-up from 0 over this many steps. */
  warmupSteps: number;
  /** Cosine floor as a fraction of the peak. */
  minLrRatio: number;
  /** Number of optimizer steps of the stage (the cosine is annealed to it). */
  totalSteps: number;
}

/** Learning rate for 0-based optimizer step `step`. */
export function learningRateAt(schedule: LrSchedule, step: number): number {
  const { lr, warmupSteps, totalSteps, minLrRatio } = schedule;
  if (warmupSteps > 0 && step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  if (schedule.schedule === 'constant') return lr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  const floor = lr * minLrRatio;
  return floor + (lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * Which records a training step sees: a pure function of (seed, stage, step), so a resumed run
 * draws exactly the batches the uninterrupted run would have drawn.
 *
 * Steps walk through one seeded permutation of the records per epoch; a batch that crosses the end
 * of an epoch continues in the next epoch's permutation.
 */
import { deriveSeed, Rng } from '../envs/index.js';

/** Deterministic batches over `n` items. */
export class BatchSchedule {
  private readonly permutations = new Map<number, number[]>();

  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly seed: number,
    private readonly stage: string,
  ) {
    if (n <= 0) throw new RangeError(`BatchSchedule(${stage}): there are no records to train on`);
  }

  /** Indices (into the record list) of the batch of 0-based `step`. */
  indicesAt(step: number): number[] {
    const indices: number[] = [];
    for (let i = 0; i < this.batchSize; i += 1) {
      const position = step * this.batchSize + i;
      const epoch = Math.floor(position / this.n);
      indices.push(this.permutation(epoch)[position % this.n]!);
    }
    return indices;
  }

  private permutation(epoch: number): number[] {
    let permutation = this.permutations.get(epoch);
    if (permutation === undefined) {
      permutation = new Rng(deriveSeed('batches', this.seed, this.stage, epoch)).shuffle([...Array(this.n).keys()]);
      // Only the current and next epochs are ever needed.
      if (this.permutations.size > 2) this.permutations.delete(Math.min(...this.permutations.keys()));
      this.permutations.set(epoch, permutation);
    }
    return permutation;
  }
}

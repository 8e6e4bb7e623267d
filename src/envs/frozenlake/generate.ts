/**
 * FrozenLake generator (the official recipe with random start and goal, as VSP and DiffThinker).
 *
 * Each candidate, drawn from the one RNG stream of `seed`: start S uniform over the N² cells, goal
 * G uniform over the other cells, then every other cell (row-major) is a hole with probability
 * `holeProbability`; the candidate is rejected unless BFS finds a path of length ≥ `minPathLength`.
 * A requested bucket (thresholds in `core/buckets.ts`) is sought over up to 4096 candidates, then
 * an `EnvError` (the official code has no FrozenLake buckets, so there is no fallback to copy).
 */
import { EnvError } from '../../errors.js';
import { shortestPlanLength } from '../core/bfs.js';
import { drawInBucket, pathLengthBucket } from '../core/buckets.js';
import { checkLevel, checkSeed, ENV_ERROR_CODES } from '../core/checks.js';
import { Rng } from '../core/rng.js';
import type { FrozenLakeInstance, GenerateOptions } from '../types.js';
import { CELL_KIND, FROZENLAKE_LEVELS, gridMoveKernel } from './instance.js';

/** Hole probability when the options give none (VSP's density). */
export const DEFAULT_HOLE_PROBABILITY = 0.2;
/** Minimum optimal length when the options give none. */
export const DEFAULT_MIN_PATH_LENGTH = 1;
/** Candidates tried per instance. */
export const FROZENLAKE_MAX_CANDIDATES = 4096;

function checkOptions(level: number, seed: number, holeProbability: number, minPathLength: number): void {
  if (!(holeProbability >= 0 && holeProbability < 1)) {
    throw new EnvError(ENV_ERROR_CODES.badOption, `frozenlake level ${level} seed ${seed}: holeProbability ${holeProbability} must be in [0, 1).`, {
      hint: 'Set tasks.frozenlake.holeProbability to e.g. 0.2 (VSP) or 0.1 (official MGSD).',
    });
  }
  if (!Number.isInteger(minPathLength) || minPathLength < 1 || minPathLength > 2 * level - 2) {
    throw new EnvError(
      ENV_ERROR_CODES.badOption,
      `frozenlake level ${level} seed ${seed}: minPathLength ${minPathLength} must be an integer in 1–${2 * level - 2} at this level.`,
      { hint: 'Lower tasks.frozenlake.minPathLength (official 2, VSP 1).' },
    );
  }
}

function rowsOf(n: number, start: number, cells: Uint8Array): string[] {
  const rows: string[] = [];
  for (let row = 0; row < n; row += 1) {
    let line = '';
    for (let col = 0; col < n; col += 1) {
      const index = row * n + col;
      if (index === start) line += 'S';
      else if (cells[index] === CELL_KIND.goal) line += 'G';
      else line += cells[index] === CELL_KIND.hole ? 'H' : 'F';
    }
    rows.push(line);
  }
  return rows;
}

/** Draws a solvable FrozenLake map of side `level` from `seed`. */
export function generateFrozenLake(level: number, seed: number, options: GenerateOptions): FrozenLakeInstance {
  checkLevel('frozenlake', level, FROZENLAKE_LEVELS.min, FROZENLAKE_LEVELS.max);
  checkSeed('frozenlake', seed);
  const holeProbability = options.holeProbability ?? DEFAULT_HOLE_PROBABILITY;
  const minPathLength = options.minPathLength ?? DEFAULT_MIN_PATH_LENGTH;
  checkOptions(level, seed, holeProbability, minPathLength);
  const rng = new Rng(seed);
  const n = level;
  return drawInBucket({
    task: 'frozenlake',
    level,
    seed,
    bucket: options.bucket,
    maxCandidates: FROZENLAKE_MAX_CANDIDATES,
    miss: 'error',
    bucketOf: pathLengthBucket,
    draw: () => {
      const start = rng.int(0, n * n - 1);
      let goal = rng.int(0, n * n - 2);
      if (goal >= start) goal += 1;
      const cells = new Uint8Array(n * n);
      for (let index = 0; index < n * n; index += 1) {
        if (index === goal) cells[index] = CELL_KIND.goal;
        else if (index !== start && rng.float() < holeProbability) cells[index] = CELL_KIND.hole;
      }
      const length = shortestPlanLength(gridMoveKernel(n, start, cells));
      if (length < minPathLength) return null; // also rejects unsolvable maps (-1)
      return { value: { task: 'frozenlake', level, rows: rowsOf(n, start, cells) }, length };
    },
  });
}

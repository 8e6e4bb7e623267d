/**
 * MiniBehaviour generator (official recipe). Each candidate, from the one stream of `seed`: the
 * table's top-left cell uniform over rows 0…N−2 and columns 0…N−3, the printer uniform over the
 * non-table cells, the start uniform over the cells that are neither table nor printer, then
 * `startDir` uniform in 0…3 (the official generator fixes 0; VPRL draws it — it never changes the
 * rules). Unsolvable candidates are rejected. A requested bucket (by total action count K,
 * PICK and DROP included) is sought over up to 20000 candidates, then an `EnvError` (official).
 */
import { shortestPlanLength } from '../core/bfs.js';
import { actionCountBucket, drawInBucket } from '../core/buckets.js';
import { checkLevel, checkSeed } from '../core/checks.js';
import { cellIndex } from '../core/grid.js';
import { Rng } from '../core/rng.js';
import type { GenerateOptions, MiniBehaviourInstance, Pos } from '../types.js';
import { MINIBEHAVIOUR_LEVELS, miniBehaviourKernel, TABLE_COLS, TABLE_ROWS } from './instance.js';

/** Candidates tried per instance (official). */
export const MINIBEHAVIOUR_MAX_CANDIDATES = 20000;

/** The `k`-th cell (row-major) that is not a table cell and not `skip` (a flat index, or -1). */
function nthFreeCell(level: number, tableTopLeft: Pos, skip: number, k: number): Pos {
  const { row: top, col: left } = tableTopLeft;
  let seen = 0;
  for (let row = 0; row < level; row += 1) {
    const isTableRow = row >= top && row < top + TABLE_ROWS;
    for (let col = 0; col < level; col += 1) {
      if (row * level + col === skip || (isTableRow && col >= left && col < left + TABLE_COLS)) continue;
      if (seen === k) return { row, col };
      seen += 1;
    }
  }
  throw new RangeError(`nthFreeCell: no free cell number ${k} at level ${level}`);
}

/** One candidate: equivalent to choosing uniformly from the row-major lists of free cells. */
function drawCandidate(level: number, rng: Rng): MiniBehaviourInstance {
  const tableTopLeft = { row: rng.int(0, level - TABLE_ROWS), col: rng.int(0, level - TABLE_COLS) };
  const freeCells = level * level - TABLE_ROWS * TABLE_COLS;
  const printer = nthFreeCell(level, tableTopLeft, -1, rng.int(0, freeCells - 1));
  const start = nthFreeCell(level, tableTopLeft, cellIndex(printer, level), rng.int(0, freeCells - 2));
  const startDir = rng.int(0, 3) as 0 | 1 | 2 | 3;
  return { task: 'minibehaviour', level, start, startDir, printer, tableTopLeft };
}

/** Draws a solvable MiniBehaviour instance of side `level` from `seed`. */
export function generateMiniBehaviour(level: number, seed: number, options: GenerateOptions): MiniBehaviourInstance {
  checkLevel('minibehaviour', level, MINIBEHAVIOUR_LEVELS.min, MINIBEHAVIOUR_LEVELS.max);
  checkSeed('minibehaviour', seed);
  const rng = new Rng(seed);
  return drawInBucket({
    task: 'minibehaviour',
    level,
    seed,
    bucket: options.bucket,
    maxCandidates: MINIBEHAVIOUR_MAX_CANDIDATES,
    miss: 'error',
    bucketOf: actionCountBucket,
    draw: () => {
      const instance = drawCandidate(level, rng);
      const length = shortestPlanLength(miniBehaviourKernel(instance));
      return length < 0 ? null : { value: instance, length };
    },
  });
}

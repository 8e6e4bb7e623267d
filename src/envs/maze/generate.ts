/**
 * Maze generator (official recipe): a perfect maze by randomized depth-first search (recursive
 * backtracker, iterative) from a random cell, then start and goal as two distinct random cells.
 *
 * The backtracker looks at the unvisited neighbours of the top cell in up, down, left, right order
 * and knocks through to a uniformly chosen one; all draws come from the one stream of `seed`.
 * A requested bucket is sought over up to 4096 candidates (a new maze and new endpoints each);
 * after that the FIRST candidate is kept — the official fallback, so the bucket of a returned
 * instance must be read back with `bucketOf`, never assumed.
 */
import { shortestPlanLength } from '../core/bfs.js';
import { drawInBucket, pathLengthBucket } from '../core/buckets.js';
import { checkLevel, checkSeed } from '../core/checks.js';
import { posOf } from '../core/grid.js';
import { Rng } from '../core/rng.js';
import type { GenerateOptions, MazeInstance } from '../types.js';
import { MAZE_LEVELS, maskKernel, WALL_BITS } from './instance.js';

/** Candidates tried for a requested bucket before the official keep-first fallback. */
export const MAZE_MAX_CANDIDATES = 4096;

const ALL_WALLS = 15;

/** Carves a perfect maze; returns flat wall masks. */
export function carveMaze(n: number, rng: Rng): Uint8Array {
  const masks = new Uint8Array(n * n).fill(ALL_WALLS);
  const visited = new Uint8Array(n * n);
  const stack = new Int32Array(n * n);
  // Unvisited neighbours of the top cell: [neighbour, wall bit here, wall bit there] × up to 4.
  const options = new Int32Array(12);
  let depth = 1;
  stack[0] = rng.int(0, n * n - 1);
  visited[stack[0]] = 1;
  const offer = (count: number, next: number, here: number, there: number): number => {
    if (visited[next]) return count;
    options[3 * count] = next;
    options[3 * count + 1] = here;
    options[3 * count + 2] = there;
    return count + 1;
  };
  while (depth > 0) {
    const cell = stack[depth - 1]!;
    const row = Math.floor(cell / n);
    const col = cell - row * n;
    let count = 0;
    if (row > 0) count = offer(count, cell - n, WALL_BITS.up, WALL_BITS.down);
    if (row < n - 1) count = offer(count, cell + n, WALL_BITS.down, WALL_BITS.up);
    if (col > 0) count = offer(count, cell - 1, WALL_BITS.left, WALL_BITS.right);
    if (col < n - 1) count = offer(count, cell + 1, WALL_BITS.right, WALL_BITS.left);
    if (count === 0) {
      depth -= 1;
      continue;
    }
    const pick = 3 * rng.int(0, count - 1);
    const next = options[pick]!;
    masks[cell] = masks[cell]! & ~options[pick + 1]!;
    masks[next] = masks[next]! & ~options[pick + 2]!;
    visited[next] = 1;
    stack[depth] = next;
    depth += 1;
  }
  return masks;
}

/** Draws a maze of side `level` from `seed`. */
export function generateMaze(level: number, seed: number, options: GenerateOptions): MazeInstance {
  checkLevel('maze', level, MAZE_LEVELS.min, MAZE_LEVELS.max);
  checkSeed('maze', seed);
  const n = level;
  const rng = new Rng(seed);
  const drawn = drawInBucket({
    task: 'maze',
    level,
    seed,
    bucket: options.bucket,
    maxCandidates: MAZE_MAX_CANDIDATES,
    miss: 'keep-first',
    bucketOf: pathLengthBucket,
    draw: () => {
      const masks = carveMaze(n, rng);
      const start = rng.int(0, n * n - 1);
      let goal = rng.int(0, n * n - 2);
      if (goal >= start) goal += 1;
      return { value: { masks, start, goal }, length: shortestPlanLength(maskKernel(n, masks, start, goal)) };
    },
  });
  const walls = Array.from({ length: n }, (_, row) => Array.from(drawn.masks.subarray(row * n, (row + 1) * n)));
  return { task: 'maze', level, walls, start: posOf(drawn.start, n), goal: posOf(drawn.goal, n) };
}

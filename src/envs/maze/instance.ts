/**
 * Maze instances: wall masks, checks, and the BFS kernel.
 *
 * `walls[row][col]` is a 4-bit mask of CLOSED sides: N=1, S=2, W=4, E=8 (the official layout).
 * Borders are always closed and neighbours agree about the wall between them. Rules: a move
 * through a closed side fails with `crossed_wall` — the border is a wall too, so leaving the grid
 * is `crossed_wall` whatever `SimulationRules.outOfBounds` says (that rule is about open grids);
 * reaching the goal cell succeeds; PICK/DROP are `action_not_allowed`.
 */
import type { Kernel } from '../core/bfs.js';
import { failureCode } from '../core/bfs.js';
import { checkCell, checkHeader, invalidInstance } from '../core/checks.js';
import { cellIndex, DIRECTION_ORDER, MOVES, posOf, samePos } from '../core/grid.js';
import type { Action, MazeInstance, Move } from '../types.js';

/** Levels the generator and validator accept (the paper uses 3–6). */
export const MAZE_LEVELS = { min: 2, max: 16 } as const;
/** Levels of the official presets. */
export const MAZE_PAPER_LEVELS = [3, 4, 5, 6] as const;

/** Wall bit of each side. */
export const WALL_BITS: Readonly<Record<Move, number>> = { up: 1, down: 2, left: 4, right: 8 };
/** The side facing each move from the neighbour's point of view. */
const OPPOSITE: Readonly<Record<Move, Move>> = { up: 'down', down: 'up', left: 'right', right: 'left' };


/** The open directions of a cell in `DIRECTION_ORDER`. */
export function openDirections(mask: number): Move[] {
  return DIRECTION_ORDER.filter((move) => (mask & WALL_BITS[move]) === 0);
}

/** Checks masks, borders, symmetry and start/goal (not solvability). */
export function checkMazeShape(instance: MazeInstance): void {
  const n = checkHeader('maze', instance, MAZE_LEVELS.min, MAZE_LEVELS.max);
  const walls = instance.walls;
  if (!Array.isArray(walls) || walls.length !== n || walls.some((row) => !Array.isArray(row) || row.length !== n)) {
    throw invalidInstance('maze', n, `walls must be ${n} rows of ${n} masks.`);
  }
  for (let row = 0; row < n; row += 1) {
    for (let col = 0; col < n; col += 1) checkMazeCell(instance, row, col);
  }
  checkCell('maze', n, 'start', instance.start);
  checkCell('maze', n, 'goal', instance.goal);
  if (samePos(instance.start, instance.goal)) throw invalidInstance('maze', n, 'start and goal are the same cell.');
}

function checkMazeCell(instance: MazeInstance, row: number, col: number): void {
  const n = instance.level;
  const mask = instance.walls[row]![col]!;
  if (!Number.isInteger(mask) || mask < 0 || mask > 15) {
    throw invalidInstance('maze', n, `walls[${row}][${col}] is ${JSON.stringify(mask)}, expected an integer mask 0–15 (N=1, S=2, W=4, E=8).`);
  }
  for (const move of MOVES) {
    const isClosed = (mask & WALL_BITS[move]) !== 0;
    const r = row + (move === 'down' ? 1 : move === 'up' ? -1 : 0);
    const c = col + (move === 'right' ? 1 : move === 'left' ? -1 : 0);
    if (r < 0 || c < 0 || r >= n || c >= n) {
      if (!isClosed) throw invalidInstance('maze', n, `cell (${row},${col}) is open to the ${move} on the border; borders must be closed.`);
      continue;
    }
    const facing = (instance.walls[r]![c]! & WALL_BITS[OPPOSITE[move]]) !== 0;
    if (facing !== isClosed) {
      throw invalidInstance('maze', n, `cells (${row},${col}) and (${r},${c}) disagree about the wall between them.`);
    }
  }
}

/** Compiles a (shape-valid) maze into the BFS kernel; states are flat cell indices. */
export function mazeKernel(instance: MazeInstance): Kernel {
  const n = instance.level;
  const masks = new Uint8Array(n * n);
  instance.walls.forEach((line, row) => line.forEach((mask, col) => (masks[row * n + col] = mask)));
  return maskKernel(n, masks, cellIndex(instance.start, n), cellIndex(instance.goal, n));
}

/** The kernel of flat wall masks (also used by the generator). */
export function maskKernel(n: number, masks: Uint8Array, start: number, goal: number): Kernel {
  const wall = failureCode('crossed_wall');
  const notAllowed = failureCode('action_not_allowed');
  return {
    numStates: n * n,
    start,
    actions: MOVES,
    isGoal: (state) => state === goal,
    cellOf: (state) => posOf(state, n),
    step(state: number, action: Action): number {
      if (action === 'pick' || action === 'drop') return notAllowed;
      if ((masks[state]! & WALL_BITS[action]) !== 0) return wall;
      if (action === 'left') return state - 1;
      if (action === 'right') return state + 1;
      return action === 'up' ? state - n : state + n;
    },
  };
}

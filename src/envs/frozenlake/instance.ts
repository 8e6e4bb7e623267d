/**
 * FrozenLake instances: reading the map and compiling it into the shared BFS kernel.
 *
 * A map is N strings over S (start), F (frozen), H (hole), G (goal). Rules (official, non-slippery
 * gym semantics): a move goes exactly where it points; stepping into H fails (`fell_into_hole`);
 * stepping onto G succeeds; a move off the grid fails (`out_of_bounds`) or, under
 * `outOfBounds: 'stay'`, leaves the player in place; PICK/DROP are `action_not_allowed`.
 */
import type { Kernel } from '../core/bfs.js';
import { failureCode } from '../core/bfs.js';
import { checkHeader, invalidInstance } from '../core/checks.js';
import { MOVES, posOf } from '../core/grid.js';
import type { Action, FrozenLakeInstance, Pos, SimulationRules } from '../types.js';

/** Levels the generator and validator accept (the paper uses 3–8). */
export const FROZENLAKE_LEVELS = { min: 2, max: 16 } as const;

/** Levels of the official presets. */
export const FROZENLAKE_PAPER_LEVELS = [3, 4, 5, 6, 7, 8] as const;

/** The map read into positions. */
export interface FrozenLakeLayout {
  n: number;
  start: Pos;
  goal: Pos;
  /** Holes in row-major order. */
  holes: Pos[];
}

/** Reads start, goal and holes from a map (assumes a valid instance). */
export function layoutOf(instance: FrozenLakeInstance): FrozenLakeLayout {
  const n = instance.level;
  let start: Pos = { row: -1, col: -1 };
  let goal: Pos = { row: -1, col: -1 };
  const holes: Pos[] = [];
  instance.rows.forEach((line, row) => {
    for (let col = 0; col < line.length; col += 1) {
      const symbol = line[col];
      if (symbol === 'S') start = { row, col };
      else if (symbol === 'G') goal = { row, col };
      else if (symbol === 'H') holes.push({ row, col });
    }
  });
  return { n, start, goal, holes };
}

/** Checks shape, symbols and the single S and G (not solvability). */
export function checkFrozenLakeShape(instance: FrozenLakeInstance): void {
  const n = checkHeader('frozenlake', instance, FROZENLAKE_LEVELS.min, FROZENLAKE_LEVELS.max);
  if (!Array.isArray(instance.rows) || instance.rows.length !== n) {
    throw invalidInstance('frozenlake', n, `rows must be ${n} strings, got ${Array.isArray(instance.rows) ? instance.rows.length : typeof instance.rows}.`);
  }
  const counts = { S: 0, G: 0 };
  instance.rows.forEach((line, row) => {
    if (typeof line !== 'string' || line.length !== n) {
      throw invalidInstance('frozenlake', n, `row ${row} is ${JSON.stringify(line)}, expected ${n} characters.`);
    }
    const bad = [...line].findIndex((symbol) => !'SFHG'.includes(symbol));
    if (bad >= 0) {
      throw invalidInstance('frozenlake', n, `cell (${row},${bad}) is ${JSON.stringify(line[bad])}; cells must be one of S, F, H, G.`);
    }
    for (const symbol of line) if (symbol === 'S' || symbol === 'G') counts[symbol] += 1;
  });
  for (const symbol of ['S', 'G'] as const) {
    if (counts[symbol] !== 1) {
      throw invalidInstance('frozenlake', n, `the map has ${counts[symbol]} ${symbol} cells, expected exactly one.`);
    }
  }
}

const FROZEN = 0;
const HOLE = 1;
const GOAL = 2;

/** Compiles a (shape-valid) map into the BFS kernel; states are flat cell indices. */
export function frozenLakeKernel(instance: FrozenLakeInstance): Kernel {
  const n = instance.level;
  const cells = new Uint8Array(n * n);
  let start = 0;
  instance.rows.forEach((line, row) => {
    for (let col = 0; col < n; col += 1) {
      const symbol = line.charCodeAt(col);
      const index = row * n + col;
      if (symbol === 72 /* H */) cells[index] = HOLE;
      else if (symbol === 71 /* G */) cells[index] = GOAL;
      else if (symbol === 83 /* S */) start = index;
    }
  });
  return gridMoveKernel(n, start, cells);
}

/** The kernel of a map given as cell kinds (also used by the generator, which has no rows yet). */
export function gridMoveKernel(n: number, start: number, cells: Uint8Array): Kernel {
  const outOfBounds = failureCode('out_of_bounds');
  const hole = failureCode('fell_into_hole');
  const notAllowed = failureCode('action_not_allowed');
  return {
    numStates: n * n,
    start,
    actions: MOVES,
    isGoal: (state) => cells[state] === GOAL,
    cellOf: (state) => posOf(state, n),
    step(state: number, action: Action, rules: SimulationRules): number {
      const row = Math.floor(state / n);
      const col = state - row * n;
      let target: number;
      if (action === 'left') target = col > 0 ? state - 1 : -1;
      else if (action === 'right') target = col < n - 1 ? state + 1 : -1;
      else if (action === 'up') target = row > 0 ? state - n : -1;
      else if (action === 'down') target = row < n - 1 ? state + n : -1;
      else return notAllowed;
      if (target < 0) return rules.outOfBounds === 'stay' ? state : outOfBounds;
      return cells[target] === HOLE ? hole : target;
    },
  };
}

/** Cell kinds used by `gridMoveKernel`. */
export const CELL_KIND = { frozen: FROZEN, hole: HOLE, goal: GOAL } as const;

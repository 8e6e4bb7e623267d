/**
 * Grid vocabulary shared by the three tasks: positions, moves, deltas, bounds and action letters.
 *
 * Positions are 0-based `{row, col}` with row 0 at the top; a cell's flat index is `row * n + col`.
 * `ACTION_ORDER` (L, D, R, U, PICK, DROP: gym's move order, then the object actions) is the one
 * tie-break order every solver uses when it must pick among equally good actions.
 */
import type { Action, Move, Pos } from '../types.js';

/** The four moves in the fixed tie-break order L, D, R, U (gymnasium's action order). */
export const MOVES: readonly Move[] = ['left', 'down', 'right', 'up'];

/** The order directions are listed in prompts and read-outs: up, right, down, left (clockwise). */
export const DIRECTION_ORDER: readonly Move[] = ['up', 'right', 'down', 'left'];

/** Every action in the tie-break order: the moves, then PICK and DROP. */
export const ACTION_ORDER: readonly Action[] = [...MOVES, 'pick', 'drop'];

/** Row and column change of each move. */
export const MOVE_DELTAS: Readonly<Record<Move, Readonly<Pos>>> = {
  up: { row: -1, col: 0 },
  down: { row: 1, col: 0 },
  left: { row: 0, col: -1 },
  right: { row: 0, col: 1 },
};

/** One-letter form of each action (compact answers; paper answers use it for moves only). */
export const ACTION_LETTERS: Readonly<Record<Action, string>> = {
  up: 'U',
  down: 'D',
  left: 'L',
  right: 'R',
  pick: 'P',
  drop: 'X',
};

/** Upper-case word of each action as the paper profile writes it in MiniBehaviour answers. */
export const ACTION_WORDS: Readonly<Record<Action, string>> = {
  up: 'U',
  down: 'D',
  left: 'L',
  right: 'R',
  pick: 'PICK',
  drop: 'DROP',
};

/** True for the four moves (false for PICK and DROP). */
export function isMove(action: Action): action is Move {
  return action === 'up' || action === 'down' || action === 'left' || action === 'right';
}

/** The cell one move away (may be off the grid). */
export function stepPos(pos: Pos, move: Move): Pos {
  const delta = MOVE_DELTAS[move];
  return { row: pos.row + delta.row, col: pos.col + delta.col };
}

/** True when `pos` lies on an `n`×`n` grid. */
export function inBounds(pos: Pos, n: number): boolean {
  return pos.row >= 0 && pos.row < n && pos.col >= 0 && pos.col < n;
}

/** Flat index `row * n + col`. */
export function cellIndex(pos: Pos, n: number): number {
  return pos.row * n + pos.col;
}

/** The position of flat index `index` on an `n`-wide grid. */
export function posOf(index: number, n: number): Pos {
  return { row: Math.floor(index / n), col: index % n };
}

/** True when both positions are the same cell. */
export function samePos(a: Pos, b: Pos): boolean {
  return a.row === b.row && a.col === b.col;
}

/** The in-bounds 4-neighbours of `pos`, in `MOVES` order. */
export function neighbours(pos: Pos, n: number): Pos[] {
  return MOVES.map((move) => stepPos(pos, move)).filter((next) => inBounds(next, n));
}

/** Sorts cells row-major (a canonical order for lists shown to models). */
export function sortCells(cells: readonly Pos[]): Pos[] {
  return [...cells].sort((a, b) => a.row - b.row || a.col - b.col);
}

/** Removes duplicate cells, keeping the first of each. */
export function uniqueCells(cells: readonly Pos[]): Pos[] {
  const seen = new Set<string>();
  return cells.filter((cell) => {
    const key = `${cell.row},${cell.col}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `(r,c)`, the coordinate form of the paper profile. */
export function formatPos(pos: Pos): string {
  return `(${pos.row},${pos.col})`;
}

/** Two hex digits `rc`, the coordinate form of the compact profile (levels up to 16). */
export function formatCompactPos(pos: Pos): string {
  return `${pos.row.toString(16)}${pos.col.toString(16)}`;
}

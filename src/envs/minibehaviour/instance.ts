/**
 * MiniBehaviour instances ("install a printer", simplified as VPRL and MGSD do): geometry, checks
 * and the BFS kernel.
 *
 * An N×N floor (no wall ring) holds a 2-row × 3-column table (top-left `tableTopLeft`), a printer
 * and the agent. Rules (official): moves are 4-directional; the table is always blocked
 * (`entered_table`); the printer cell is blocked until PICK (`entered_printer`) and passable
 * after; PICK is legal only while not carrying and 4-adjacent to the printer (`pick_invalid`);
 * DROP is legal only while carrying and 4-adjacent to a table cell (`drop_invalid`); the first
 * legal DROP ends the episode with success; a move off the floor fails (`out_of_bounds`) or,
 * under `outOfBounds: 'stay'`, is a no-op. Facing (`startDir`) only orients the drawn agent.
 * Kernel states: `cell * 2 + carrying` for the walk, `2N² + cell` once dropped (terminal).
 */
import type { Kernel } from '../core/bfs.js';
import { failureCode } from '../core/bfs.js';
import { checkCell, checkHeader, invalidInstance } from '../core/checks.js';
import { ACTION_ORDER, cellIndex, neighbours, posOf, samePos, sortCells, uniqueCells } from '../core/grid.js';
import type { Action, MiniBehaviourInstance, Pos, SimulationRules } from '../types.js';

/** Levels the generator and validator accept (the paper uses 5–6; the tiny preset 5). */
export const MINIBEHAVIOUR_LEVELS = { min: 4, max: 16 } as const;
/** Levels of the official presets. */
export const MINIBEHAVIOUR_PAPER_LEVELS = [5, 6] as const;
/** Table size in cells. */
export const TABLE_ROWS = 2;
export const TABLE_COLS = 3;

/** The six table cells, row-major. */
export function tableCells(instance: Pick<MiniBehaviourInstance, 'tableTopLeft'>): Pos[] {
  const { row, col } = instance.tableTopLeft;
  const cells: Pos[] = [];
  for (let r = 0; r < TABLE_ROWS; r += 1) for (let c = 0; c < TABLE_COLS; c += 1) cells.push({ row: row + r, col: col + c });
  return cells;
}

/** True when `pos` is a table cell. */
export function isTableCell(instance: Pick<MiniBehaviourInstance, 'tableTopLeft'>, pos: Pos): boolean {
  const { row, col } = instance.tableTopLeft;
  return pos.row >= row && pos.row < row + TABLE_ROWS && pos.col >= col && pos.col < col + TABLE_COLS;
}

/** Cells from which PICK is legal: in-bounds 4-neighbours of the printer that are not table cells. */
export function printerNeighbours(instance: MiniBehaviourInstance): Pos[] {
  return sortCells(neighbours(instance.printer, instance.level).filter((cell) => !isTableCell(instance, cell)));
}

/** Cells from which DROP is legal: 4-neighbours of the table that are not table cells (may be the printer's). */
export function tableNeighbours(instance: MiniBehaviourInstance): Pos[] {
  const around = tableCells(instance).flatMap((cell) => neighbours(cell, instance.level));
  return sortCells(uniqueCells(around.filter((cell) => !isTableCell(instance, cell))));
}

/** Checks geometry and symbols (not solvability). */
export function checkMiniBehaviourShape(instance: MiniBehaviourInstance): void {
  const n = checkHeader('minibehaviour', instance, MINIBEHAVIOUR_LEVELS.min, MINIBEHAVIOUR_LEVELS.max);
  checkCell('minibehaviour', n, 'tableTopLeft', instance.tableTopLeft);
  if (instance.tableTopLeft.row > n - TABLE_ROWS || instance.tableTopLeft.col > n - TABLE_COLS) {
    throw invalidInstance('minibehaviour', n, `the 2×3 table at ${JSON.stringify(instance.tableTopLeft)} does not fit in the ${n}×${n} grid.`);
  }
  checkCell('minibehaviour', n, 'printer', instance.printer);
  checkCell('minibehaviour', n, 'start', instance.start);
  if (isTableCell(instance, instance.printer)) throw invalidInstance('minibehaviour', n, 'the printer stands on the table.');
  if (isTableCell(instance, instance.start)) throw invalidInstance('minibehaviour', n, 'the agent starts on the table.');
  if (samePos(instance.start, instance.printer)) throw invalidInstance('minibehaviour', n, 'the agent starts on the printer.');
  if (![0, 1, 2, 3].includes(instance.startDir)) {
    throw invalidInstance('minibehaviour', n, `startDir ${JSON.stringify(instance.startDir)} must be 0 (east), 1 (south), 2 (west) or 3 (north).`);
  }
}

/**
 * Per-cell flags (table, PICK legal, DROP legal) as typed arrays — the same sets as
 * `printerNeighbours`/`tableNeighbours`, built without intermediate objects (generation hot path).
 */
function cellFlags(instance: MiniBehaviourInstance): { table: Uint8Array; canPick: Uint8Array; canDrop: Uint8Array } {
  const n = instance.level;
  const table = new Uint8Array(n * n);
  const canPick = new Uint8Array(n * n);
  const canDrop = new Uint8Array(n * n);
  const { row: top, col: left } = instance.tableTopLeft;
  for (let r = top; r < top + TABLE_ROWS; r += 1) for (let c = left; c < left + TABLE_COLS; c += 1) table[r * n + c] = 1;
  const mark = (flags: Uint8Array, row: number, col: number): void => {
    if (row >= 0 && col >= 0 && row < n && col < n && table[row * n + col] === 0) flags[row * n + col] = 1;
  };
  const around = (flags: Uint8Array, row: number, col: number): void => {
    mark(flags, row - 1, col);
    mark(flags, row + 1, col);
    mark(flags, row, col - 1);
    mark(flags, row, col + 1);
  };
  around(canPick, instance.printer.row, instance.printer.col);
  for (let r = top; r < top + TABLE_ROWS; r += 1) for (let c = left; c < left + TABLE_COLS; c += 1) around(canDrop, r, c);
  return { table, canPick, canDrop };
}

/** Compiles a (shape-valid) instance into the BFS kernel (state layout in the module header). */
export function miniBehaviourKernel(instance: MiniBehaviourInstance): Kernel {
  const n = instance.level;
  const area = n * n;
  const printer = cellIndex(instance.printer, n);
  const { table, canPick, canDrop } = cellFlags(instance);
  const codes = {
    bounds: failureCode('out_of_bounds'),
    table: failureCode('entered_table'),
    printer: failureCode('entered_printer'),
    pick: failureCode('pick_invalid'),
    drop: failureCode('drop_invalid'),
  };
  return {
    numStates: 3 * area,
    start: cellIndex(instance.start, n) * 2,
    actions: ACTION_ORDER,
    isGoal: (state) => state >= 2 * area,
    cellOf: (state) => posOf(state >= 2 * area ? state - 2 * area : state >> 1, n),
    step(state: number, action: Action, rules: SimulationRules): number {
      const cell = state >> 1;
      const carrying = state & 1;
      if (action === 'pick') return carrying === 0 && canPick[cell] ? state | 1 : codes.pick;
      if (action === 'drop') return carrying === 1 && canDrop[cell] ? 2 * area + cell : codes.drop;
      const row = Math.floor(cell / n);
      const col = cell - row * n;
      let target: number;
      if (action === 'left') target = col > 0 ? cell - 1 : -1;
      else if (action === 'right') target = col < n - 1 ? cell + 1 : -1;
      else if (action === 'up') target = row > 0 ? cell - n : -1;
      else target = row < n - 1 ? cell + n : -1;
      if (target < 0) return rules.outOfBounds === 'stay' ? state : codes.bounds;
      if (table[target]) return codes.table;
      if (target === printer && carrying === 0) return codes.printer;
      return target * 2 + carrying;
    },
  };
}

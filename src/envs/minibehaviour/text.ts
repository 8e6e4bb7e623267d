/**
 * MiniBehaviour symbolic state as text (no prose: labelled wording lives in `prompts.ts`).
 *
 * - the grid: one line per row over `.` floor, `T` table, `P` printer, `A` agent;
 * - the compact state: `N<size>` then the grid, e.g. `N5\n.....\n.P...\n.A...\n.TTT.\n.TTT.`;
 * - `parseCompactMiniBehaviourState` reads it back (`startDir` is not in the text: it becomes 0).
 */
import { invalidInstance } from '../core/checks.js';
import { cellIndex } from '../core/grid.js';
import type { MiniBehaviourInstance, Pos } from '../types.js';
import { checkMiniBehaviourShape, tableCells } from './instance.js';

/** The grid over `. T P A`, one line per row. */
export function miniBehaviourGrid(instance: MiniBehaviourInstance): string {
  const n = instance.level;
  const symbols = new Array<string>(n * n).fill('.');
  for (const cell of tableCells(instance)) symbols[cellIndex(cell, n)] = 'T';
  symbols[cellIndex(instance.printer, n)] = 'P';
  symbols[cellIndex(instance.start, n)] = 'A';
  const rows: string[] = [];
  for (let row = 0; row < n; row += 1) rows.push(symbols.slice(row * n, (row + 1) * n).join(''));
  return rows.join('\n');
}

/** The compact text state: `N5` then the grid. */
export function compactMiniBehaviourState(instance: MiniBehaviourInstance): string {
  return `N${instance.level}\n${miniBehaviourGrid(instance)}`;
}

/** Reads a compact text state back into an instance (`startDir` 0). */
export function parseCompactMiniBehaviourState(state: string): MiniBehaviourInstance {
  const [header = '', ...rows] = state.trim().split('\n');
  const level = Number(header.slice(1));
  if (!header.startsWith('N') || !Number.isInteger(level) || rows.length !== level) {
    throw invalidInstance('minibehaviour', header, `compact state must be N<size> then <size> grid rows, got ${JSON.stringify(state)}.`);
  }
  const find = (symbol: string): Pos[] =>
    rows.flatMap((line, row) => [...line].flatMap((cell, col) => (cell === symbol ? [{ row, col }] : [])));
  const [start] = find('A');
  const [printer] = find('P');
  const [tableTopLeft] = find('T');
  if (start === undefined || printer === undefined || tableTopLeft === undefined) {
    throw invalidInstance('minibehaviour', level, 'the grid needs one A, one P and a T table.');
  }
  const instance: MiniBehaviourInstance = { task: 'minibehaviour', level, start, startDir: 0, printer, tableTopLeft };
  checkMiniBehaviourShape(instance);
  if (miniBehaviourGrid(instance) !== rows.join('\n')) {
    throw invalidInstance('minibehaviour', level, 'the grid is not one agent, one printer and one 2×3 table on floor.');
  }
  return instance;
}

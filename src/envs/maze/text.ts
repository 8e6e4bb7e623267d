/**
 * Maze symbolic state as text (no prose: labelled wording lives in `prompts.ts`).
 *
 * - the open-direction table: one line per cell, row-major, `(r,c): up, right, down, left` (open
 *   sides only, in that order);
 * - the compact state: `N3 S00 G22` then one line per row of hex wall masks (N=1, S=2, W=4, E=8,
 *   closed sides), e.g. `d59\n...`. Hex digits, not an ASCII drawing: N+1 characters per row
 *   instead of 2N+2, cells line up so the cell below is always N+1 characters later, and the
 *   digits are the very tokens of the compact read-out (`W<digits>`), so reading the state out and
 *   planning over it use one alphabet. Coordinates are two hex digits (levels up to 16).
 */
import { invalidInstance } from '../core/checks.js';
import { formatCompactPos, formatPos } from '../core/grid.js';
import { readCompactPos } from '../core/perception-fields.js';
import type { MazeInstance } from '../types.js';
import { checkMazeShape, openDirections } from './instance.js';

/** The open-direction table, one line per cell. */
export function openDirectionTable(instance: MazeInstance): string {
  const lines: string[] = [];
  instance.walls.forEach((row, r) =>
    row.forEach((mask, c) => {
      const open = openDirections(mask);
      lines.push(`${formatPos({ row: r, col: c })}: ${open.length === 0 ? 'none' : open.join(', ')}`);
    }),
  );
  return lines.join('\n');
}

/** All wall masks as hex digits, row-major (no separators). */
export function wallDigits(instance: MazeInstance): string {
  return instance.walls.map((row) => row.map((mask) => mask.toString(16)).join('')).join('');
}

/** The compact text state. */
export function compactMazeState(instance: MazeInstance): string {
  const header = `N${instance.level} S${formatCompactPos(instance.start)} G${formatCompactPos(instance.goal)}`;
  const rows = instance.walls.map((row) => row.map((mask) => mask.toString(16)).join(''));
  return `${header}\n${rows.join('\n')}`;
}

/** Reads a compact text state back into an instance (checks the shape). */
export function parseCompactMazeState(state: string): MazeInstance {
  const [header = '', ...rows] = state.trim().split('\n');
  const match = /^N(\d+) S([0-9a-f]{2}) G([0-9a-f]{2})$/.exec(header);
  if (!match) throw invalidInstance('maze', header, `compact state must start with "N<size> S<rc> G<rc>", got ${JSON.stringify(header)}.`);
  const walls = rows.map((row) => [...row].map((digit) => parseInt(digit, 16)));
  const instance: MazeInstance = {
    task: 'maze',
    level: Number(match[1]),
    walls,
    start: readCompactPos(match[2]!)!,
    goal: readCompactPos(match[3]!)!,
  };
  checkMazeShape(instance);
  return instance;
}

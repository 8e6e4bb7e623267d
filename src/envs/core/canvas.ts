/**
 * The grid frame every renderer draws into: checks the render options, lays out the cells and
 * draws the optional path overlay.
 *
 * - `paper`: the N cells span the whole `sizePx` square, boundaries at ⌊i·sizePx/N⌋ (cells may
 *   differ by one pixel). At least 8 px per cell.
 * - `compact`: exactly 8×8 px per cell from the top-left corner, black padding up to `sizePx`
 *   (a multiple of 8 that fits the grid).
 * - The path overlay is a band through the centres of the listed cells (an L-shaped detour,
 *   horizontal first, joins cells that are not neighbours).
 */
import { EnvError } from '../../errors.js';
import type { EnvName, Pos, Raster, RenderOptions } from '../types.js';
import { ENV_ERROR_CODES } from './checks.js';
import type { Rgb } from './raster.js';
import { cellEdges, createRaster, drawSegment } from './raster.js';

/** Pixels per cell side in the compact style. */
export const COMPACT_CELL_PX = 8;
/** Default image side per style. */
export const DEFAULT_SIZE_PX = { paper: 256, compact: 40 } as const;
/** Colour of drawn paths (used by no sprite). */
export const PATH_COLOUR: Rgb = [236, 0, 140];

/** A raster with its cell layout. */
export interface GridFrame {
  n: number;
  raster: Raster;
  /** Cell boundaries along x (columns) and y (rows), N+1 each. */
  edges: number[];
}

function renderError(task: EnvName, level: number, problem: string, hint: string): EnvError {
  return new EnvError(ENV_ERROR_CODES.badRender, `${task} level ${level}: ${problem}`, { hint, context: { task, level } });
}

/** Creates the frame for `options`, filled with `background`; throws `EnvError` on bad options. */
export function createFrame(task: EnvName, n: number, options: RenderOptions, background: Rgb): GridFrame {
  const { sizePx, style } = options;
  if (!Number.isInteger(sizePx) || sizePx <= 0) {
    throw renderError(task, n, `sizePx ${sizePx} is not a positive integer.`, 'Pass an image side in pixels, e.g. 256 (paper) or 40 (compact).');
  }
  if (style === 'compact') {
    if (sizePx % COMPACT_CELL_PX !== 0 || sizePx < n * COMPACT_CELL_PX) {
      throw renderError(
        task,
        n,
        `the compact style needs a multiple of ${COMPACT_CELL_PX} px of at least ${n * COMPACT_CELL_PX} px, got ${sizePx}.`,
        `Set data.imageSizePx to a multiple of ${COMPACT_CELL_PX} ≥ ${COMPACT_CELL_PX} × the largest level.`,
      );
    }
    const edges = Array.from({ length: n + 1 }, (_, i) => i * COMPACT_CELL_PX);
    return { n, raster: createRaster(sizePx, sizePx, [0, 0, 0]), edges };
  }
  if (style !== 'paper') {
    throw renderError(task, n, `unknown render style ${JSON.stringify(style)}.`, 'Use "paper" or "compact".');
  }
  if (sizePx < n * 8) {
    throw renderError(task, n, `the paper style needs at least 8 px per cell (${n * 8} px), got ${sizePx}.`, 'Raise data.imageSizePx.');
  }
  return { n, raster: createRaster(sizePx, sizePx, background), edges: cellEdges(n, sizePx) };
}

/** The pixel box [x0, y0, x1) × [y0, y1) of a cell. */
export function cellBox(frame: GridFrame, pos: Pos): [number, number, number, number] {
  return [frame.edges[pos.col]!, frame.edges[pos.row]!, frame.edges[pos.col + 1]!, frame.edges[pos.row + 1]!];
}

/** A fraction `num/den` of the way across [from, to), rounded down (integer sprite geometry). */
export function lerp(from: number, to: number, num: number, den: number): number {
  return from + Math.floor(((to - from) * num) / den);
}

/** Draws `path` (cells, in order) as a band through the cell centres; off-grid cells are an error. */
export function drawPath(task: EnvName, frame: GridFrame, path: readonly Pos[] | undefined): void {
  if (path === undefined || path.length === 0) return;
  for (const cell of path) {
    if (!Number.isInteger(cell.row) || !Number.isInteger(cell.col) || cell.row < 0 || cell.col < 0 || cell.row >= frame.n || cell.col >= frame.n) {
      throw renderError(task, frame.n, `path cell ${JSON.stringify(cell)} is off the grid.`, 'Draw trajectories returned by simulate (they never leave the grid).');
    }
  }
  const smallest = Math.min(...frame.edges.slice(1).map((edge, i) => edge - frame.edges[i]!));
  const thickness = Math.max(2, Math.floor(smallest / 12));
  const centre = (cell: Pos): [number, number] => {
    const [x0, y0, x1, y1] = cellBox(frame, cell);
    return [Math.floor((x0 + x1) / 2), Math.floor((y0 + y1) / 2)];
  };
  let previous = centre(path[0]!);
  drawSegment(frame.raster, previous, previous, thickness, PATH_COLOUR);
  for (const cell of path.slice(1)) {
    const next = centre(cell);
    const corner: [number, number] = [next[0], previous[1]];
    drawSegment(frame.raster, previous, corner, thickness, PATH_COLOUR);
    drawSegment(frame.raster, corner, next, thickness, PATH_COLOUR);
    previous = next;
  }
}

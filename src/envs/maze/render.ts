/**
 * Maze renderer.
 *
 * `paper` (official look): black walls about a quarter cell thick (each cell is a white square
 * inset by half a wall on every side; openings to the east and south are bridged in white), a thin
 * light-grey seam across every opening so cell boundaries stay visible, a yellow disc on the
 * player's start and a blue disc on the goal. `compact`: one 8×8 patch per cell — light floor, a
 * dark 1-px line along each closed side of that cell, a yellow or blue 4×4 centre mark for the
 * start or goal — on black padding, so every fact of a cell is in its own patch.
 */
import type { GridFrame } from '../core/canvas.js';
import { cellBox, createFrame, drawPath } from '../core/canvas.js';
import type { Rgb } from '../core/raster.js';
import { fillDisc, fillRect } from '../core/raster.js';
import type { MazeInstance, Pos, Raster, RenderOptions } from '../types.js';
import { WALL_BITS } from './instance.js';

/** Colours of the paper style. */
export const MAZE_PAPER_COLOURS = {
  wall: [0, 0, 0],
  floor: [255, 255, 255],
  seam: [224, 224, 224],
  start: [255, 210, 0],
  goal: [30, 90, 255],
} as const satisfies Record<string, Rgb>;

/** Colours of the compact style. */
export const MAZE_COMPACT_COLOURS = {
  floor: [230, 230, 230],
  wall: [60, 60, 60],
  start: [255, 210, 0],
  goal: [30, 90, 255],
} as const satisfies Record<string, Rgb>;

const P = MAZE_PAPER_COLOURS;

/** Wall thickness and the two insets (before/after a boundary) of the paper style. */
export function paperWallGeometry(frame: GridFrame): { wall: number; before: number; after: number; seam: number } {
  const smallest = Math.min(...frame.edges.slice(1).map((edge, i) => edge - frame.edges[i]!));
  const wall = Math.max(2, Math.floor(smallest / 4));
  const after = Math.floor(wall / 2); // inset at a cell's left/top side
  return { wall, before: wall - after, after, seam: Math.max(1, Math.floor(smallest / 16)) };
}

function mask(instance: MazeInstance, pos: Pos): number {
  return instance.walls[pos.row]![pos.col]!;
}

function drawPaperCell(frame: GridFrame, instance: MazeInstance, pos: Pos): void {
  const g = paperWallGeometry(frame);
  const [x0, y0, x1, y1] = cellBox(frame, pos);
  const r = frame.raster;
  fillRect(r, x0 + g.after, y0 + g.after, x1 - g.before, y1 - g.before, P.floor);
  const m = mask(instance, pos);
  const seamBefore = Math.floor((g.seam - 1) / 2);
  if ((m & WALL_BITS.right) === 0) {
    fillRect(r, x1 - g.before, y0 + g.after, x1 + g.after, y1 - g.before, P.floor);
    fillRect(r, x1 - seamBefore, y0 + g.after, x1 - seamBefore + g.seam, y1 - g.before, P.seam);
  }
  if ((m & WALL_BITS.down) === 0) {
    fillRect(r, x0 + g.after, y1 - g.before, x1 - g.before, y1 + g.after, P.floor);
    fillRect(r, x0 + g.after, y1 - seamBefore, x1 - g.before, y1 - seamBefore + g.seam, P.seam);
  }
}

function drawMarker(frame: GridFrame, pos: Pos, colour: Rgb): void {
  const g = paperWallGeometry(frame);
  const [x0, y0, x1, y1] = cellBox(frame, pos);
  const inner = Math.min(x1 - x0, y1 - y0) - g.wall;
  const radius = Math.max(3, Math.floor(inner / 4));
  fillDisc(frame.raster, x0 + g.after + (x1 - g.before), y0 + g.after + (y1 - g.before), 2 * radius, colour);
}

function renderPaper(instance: MazeInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('maze', instance.level, options, P.wall);
  for (let row = 0; row < instance.level; row += 1) {
    for (let col = 0; col < instance.level; col += 1) drawPaperCell(frame, instance, { row, col });
  }
  drawMarker(frame, instance.start, P.start);
  drawMarker(frame, instance.goal, P.goal);
  return frame;
}

function renderCompact(instance: MazeInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('maze', instance.level, options, [0, 0, 0]);
  const C = MAZE_COMPACT_COLOURS;
  const r = frame.raster;
  for (let row = 0; row < instance.level; row += 1) {
    for (let col = 0; col < instance.level; col += 1) {
      const [x0, y0, x1, y1] = cellBox(frame, { row, col });
      const m = mask(instance, { row, col });
      fillRect(r, x0, y0, x1, y1, C.floor);
      if (m & WALL_BITS.up) fillRect(r, x0, y0, x1, y0 + 1, C.wall);
      if (m & WALL_BITS.down) fillRect(r, x0, y1 - 1, x1, y1, C.wall);
      if (m & WALL_BITS.left) fillRect(r, x0, y0, x0 + 1, y1, C.wall);
      if (m & WALL_BITS.right) fillRect(r, x1 - 1, y0, x1, y1, C.wall);
    }
  }
  for (const [pos, colour] of [[instance.start, C.start], [instance.goal, C.goal]] as const) {
    const [x0, y0] = cellBox(frame, pos);
    fillRect(r, x0 + 2, y0 + 2, x0 + 6, y0 + 6, colour);
  }
  return frame;
}

/** Renders a maze (with an optional path overlay). */
export function renderMaze(instance: MazeInstance, options: RenderOptions): Raster {
  const frame = options.style === 'compact' ? renderCompact(instance, options) : renderPaper(instance, options);
  drawPath('maze', frame, options.path);
  return frame.raster;
}

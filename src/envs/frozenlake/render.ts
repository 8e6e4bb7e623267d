/**
 * FrozenLake renderer.
 *
 * `paper` (official look, own sprites): pale ice tiles separated by 1-px light-blue (180,200,230)
 * lines, holes as dark pits, the goal as a red gift box with a yellow ribbon, the start as a
 * little green elf (the player stands on the start). `compact`: one flat 8×8 patch per cell —
 * frozen light blue, hole dark blue, start green, goal gold — on black padding.
 * Every colour below is used by exactly one kind of cell, so a per-cell colour test recovers the map.
 */
import type { GridFrame } from '../core/canvas.js';
import { cellBox, createFrame, drawPath, lerp } from '../core/canvas.js';
import type { Rgb } from '../core/raster.js';
import { fillDisc, fillRect, fillTriangle } from '../core/raster.js';
import type { FrozenLakeInstance, Raster, RenderOptions } from '../types.js';

/** Colours of the paper style. */
export const FROZENLAKE_PAPER_COLOURS = {
  ice: [214, 234, 248],
  grid: [180, 200, 230],
  holeRim: [58, 78, 110],
  hole: [16, 26, 48],
  gift: [205, 50, 50],
  giftLid: [232, 84, 70],
  ribbon: [250, 212, 64],
  elfBody: [46, 160, 70],
  elfHat: [22, 104, 48],
  skin: [246, 208, 170],
} as const satisfies Record<string, Rgb>;

/** Colours of the compact style (one flat patch per cell). */
export const FROZENLAKE_COMPACT_COLOURS = {
  F: [150, 200, 255],
  H: [20, 40, 120],
  S: [40, 200, 60],
  G: [255, 200, 0],
} as const satisfies Record<string, Rgb>;

const C = FROZENLAKE_PAPER_COLOURS;

function drawHole(frame: GridFrame, box: [number, number, number, number]): void {
  const [x0, y0, x1, y1] = box;
  const side = Math.min(x1 - x0, y1 - y0);
  fillDisc(frame.raster, x0 + x1, y0 + y1, Math.floor((side * 8) / 10), C.holeRim);
  fillDisc(frame.raster, x0 + x1, y0 + y1, Math.floor((side * 6) / 10), C.hole);
}

function drawGift(frame: GridFrame, box: [number, number, number, number]): void {
  const [x0, y0, x1, y1] = box;
  const r = frame.raster;
  const xc = Math.floor((x0 + x1) / 2);
  const band = Math.max(1, Math.floor((x1 - x0) / 16));
  fillRect(r, lerp(x0, x1, 2, 10), lerp(y0, y1, 4, 10), lerp(x0, x1, 8, 10), lerp(y0, y1, 85, 100), C.gift);
  fillRect(r, lerp(x0, x1, 15, 100), lerp(y0, y1, 3, 10), lerp(x0, x1, 85, 100), lerp(y0, y1, 4, 10), C.giftLid);
  fillRect(r, xc - band, lerp(y0, y1, 3, 10), xc + band, lerp(y0, y1, 85, 100), C.ribbon);
  const bowTop = lerp(y0, y1, 15, 100);
  const lidTop = lerp(y0, y1, 3, 10);
  fillTriangle(r, [[2 * xc, 2 * lidTop], [2 * lerp(x0, x1, 3, 10), 2 * bowTop], [2 * lerp(x0, x1, 3, 10), 2 * lidTop]], C.ribbon);
  fillTriangle(r, [[2 * xc, 2 * lidTop], [2 * lerp(x0, x1, 7, 10), 2 * bowTop], [2 * lerp(x0, x1, 7, 10), 2 * lidTop]], C.ribbon);
}

function drawElf(frame: GridFrame, box: [number, number, number, number]): void {
  const [x0, y0, x1, y1] = box;
  const r = frame.raster;
  const xc2 = x0 + x1;
  const side = Math.min(x1 - x0, y1 - y0);
  fillRect(r, lerp(x0, x1, 33, 100), lerp(y0, y1, 48, 100), lerp(x0, x1, 67, 100), lerp(y0, y1, 85, 100), C.elfBody);
  fillRect(r, lerp(x0, x1, 36, 100), lerp(y0, y1, 85, 100), lerp(x0, x1, 46, 100), lerp(y0, y1, 92, 100), C.elfHat);
  fillRect(r, lerp(x0, x1, 54, 100), lerp(y0, y1, 85, 100), lerp(x0, x1, 64, 100), lerp(y0, y1, 92, 100), C.elfHat);
  const headY2 = 2 * lerp(y0, y1, 37, 100);
  fillDisc(r, xc2, headY2, Math.floor((side * 22) / 100), C.skin);
  const brim = 2 * lerp(y0, y1, 30, 100);
  fillTriangle(r, [[2 * lerp(x0, x1, 34, 100), brim], [2 * lerp(x0, x1, 66, 100), brim], [xc2, 2 * lerp(y0, y1, 8, 100)]], C.elfHat);
}

function drawGridLines(frame: GridFrame): void {
  const { raster, edges, n } = frame;
  const last = raster.width - 1;
  for (let i = 0; i <= n; i += 1) {
    const at = Math.min(edges[i]!, last);
    fillRect(raster, at, 0, at + 1, raster.height, C.grid);
    fillRect(raster, 0, at, raster.width, at + 1, C.grid);
  }
}

function renderPaper(instance: FrozenLakeInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('frozenlake', instance.level, options, C.ice);
  instance.rows.forEach((line, row) => {
    [...line].forEach((symbol, col) => {
      const box = cellBox(frame, { row, col });
      if (symbol === 'H') drawHole(frame, box);
      else if (symbol === 'G') drawGift(frame, box);
      else if (symbol === 'S') drawElf(frame, box);
    });
  });
  drawGridLines(frame);
  return frame;
}

function renderCompact(instance: FrozenLakeInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('frozenlake', instance.level, options, [0, 0, 0]);
  instance.rows.forEach((line, row) => {
    [...line].forEach((symbol, col) => {
      const [x0, y0, x1, y1] = cellBox(frame, { row, col });
      fillRect(frame.raster, x0, y0, x1, y1, FROZENLAKE_COMPACT_COLOURS[symbol as 'S' | 'F' | 'H' | 'G']);
    });
  });
  return frame;
}

/** Renders a FrozenLake map (with an optional path overlay). */
export function renderFrozenLake(instance: FrozenLakeInstance, options: RenderOptions): Raster {
  const frame = options.style === 'compact' ? renderCompact(instance, options) : renderPaper(instance, options);
  drawPath('frozenlake', frame, options.path);
  return frame.raster;
}

/**
 * MiniBehaviour renderer.
 *
 * `paper` (official look): a black floor with 1-px (60,60,60) grid lines, tan (181,143,96) table
 * cells inset by one pixel, a white printer icon (paper sheet, body with a black slot and
 * indicator, output tray) and a red (255,24,16) triangle agent pointing in `startDir`
 * (0 east, 1 south, 2 west, 3 north). `compact`: one flat 8×8 patch per cell — floor grey, table
 * tan, printer white, agent red — on black padding (the agent's facing is not drawn: it is no
 * part of the puzzle).
 */
import type { GridFrame } from '../core/canvas.js';
import { cellBox, createFrame, drawPath, lerp } from '../core/canvas.js';
import type { Rgb } from '../core/raster.js';
import { fillRect, fillTriangle } from '../core/raster.js';
import type { MiniBehaviourInstance, Pos, Raster, RenderOptions } from '../types.js';
import { tableCells } from './instance.js';

/** Colours of the paper style. */
export const MINIBEHAVIOUR_PAPER_COLOURS = {
  floor: [0, 0, 0],
  grid: [60, 60, 60],
  table: [181, 143, 96],
  printer: [255, 255, 255],
  printerDetail: [0, 0, 0],
  agent: [255, 24, 16],
} as const satisfies Record<string, Rgb>;

/** Colours of the compact style. */
export const MINIBEHAVIOUR_COMPACT_COLOURS = {
  floor: [70, 70, 70],
  table: [181, 143, 96],
  printer: [255, 255, 255],
  agent: [255, 24, 16],
} as const satisfies Record<string, Rgb>;

const P = MINIBEHAVIOUR_PAPER_COLOURS;

function drawPrinter(frame: GridFrame, pos: Pos): void {
  const [x0, y0, x1, y1] = cellBox(frame, pos);
  const r = frame.raster;
  const at = (nx: number, ny: number): [number, number] => [lerp(x0, x1, nx, 100), lerp(y0, y1, ny, 100)];
  const rect = (a: [number, number], b: [number, number], colour: Rgb): void => fillRect(r, a[0], a[1], b[0], b[1], colour);
  rect(at(30, 12), at(70, 36), P.printer); // paper sheet
  rect(at(12, 36), at(88, 70), P.printer); // body
  rect(at(24, 52), at(76, 57), P.printerDetail); // slot
  rect(at(74, 41), at(81, 46), P.printerDetail); // indicator
  rect(at(22, 70), at(78, 84), P.printer); // tray
}

function drawAgent(frame: GridFrame, pos: Pos, direction: 0 | 1 | 2 | 3): void {
  const [x0, y0, x1, y1] = cellBox(frame, pos);
  const near = (from: number, to: number): number => 2 * lerp(from, to, 22, 100);
  const far = (from: number, to: number): number => 2 * lerp(from, to, 78, 100);
  const mid = (from: number, to: number): number => from + to;
  const [l, r, t, b] = [near(x0, x1), far(x0, x1), near(y0, y1), far(y0, y1)];
  const corners: [number, number][][] = [
    [[l, t], [l, b], [r, mid(y0, y1)]], // east
    [[l, t], [r, t], [mid(x0, x1), b]], // south
    [[r, t], [r, b], [l, mid(y0, y1)]], // west
    [[l, b], [r, b], [mid(x0, x1), t]], // north
  ];
  fillTriangle(frame.raster, corners[direction]!, P.agent);
}

function renderPaper(instance: MiniBehaviourInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('minibehaviour', instance.level, options, P.floor);
  const { raster, edges, n } = frame;
  const last = raster.width - 1;
  for (let i = 0; i <= n; i += 1) {
    const at = Math.min(edges[i]!, last);
    fillRect(raster, at, 0, at + 1, raster.height, P.grid);
    fillRect(raster, 0, at, raster.width, at + 1, P.grid);
  }
  for (const cell of tableCells(instance)) {
    const [x0, y0, x1, y1] = cellBox(frame, cell);
    fillRect(raster, x0 + 2, y0 + 2, x1 - 1, y1 - 1, P.table);
  }
  drawPrinter(frame, instance.printer);
  drawAgent(frame, instance.start, instance.startDir);
  return frame;
}

function renderCompact(instance: MiniBehaviourInstance, options: RenderOptions): GridFrame {
  const frame = createFrame('minibehaviour', instance.level, options, [0, 0, 0]);
  const C = MINIBEHAVIOUR_COMPACT_COLOURS;
  const paint = (pos: Pos, colour: Rgb): void => {
    const [x0, y0, x1, y1] = cellBox(frame, pos);
    fillRect(frame.raster, x0, y0, x1, y1, colour);
  };
  for (let row = 0; row < instance.level; row += 1) for (let col = 0; col < instance.level; col += 1) paint({ row, col }, C.floor);
  for (const cell of tableCells(instance)) paint(cell, C.table);
  paint(instance.printer, C.printer);
  paint(instance.start, C.agent);
  return frame;
}

/** Renders a MiniBehaviour instance (with an optional path overlay). */
export function renderMiniBehaviour(instance: MiniBehaviourInstance, options: RenderOptions): Raster {
  const frame = options.style === 'compact' ? renderCompact(instance, options) : renderPaper(instance, options);
  drawPath('minibehaviour', frame, options.path);
  return frame.raster;
}

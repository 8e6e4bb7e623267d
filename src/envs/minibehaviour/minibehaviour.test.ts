import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { gridDistances } from '../core/bfs.js';
import { cellBox, createFrame } from '../core/canvas.js';
import { cellIndex } from '../core/grid.js';
import { decodePng } from '../core/png-decode.js';
import { encodePng } from '../core/raster.js';
import type { MiniBehaviourInstance, Pos, Raster, RenderStyle } from '../types.js';
import { miniBehaviourPrompts, miniBehaviourSpec as spec } from './index.js';
import { isTableCell, printerNeighbours, tableCells, tableNeighbours } from './instance.js';
import { MINIBEHAVIOUR_COMPACT_COLOURS, MINIBEHAVIOUR_PAPER_COLOURS } from './render.js';
import { compactMiniBehaviourState, parseCompactMiniBehaviourState } from './text.js';

const key = (rgb: readonly number[]): string => rgb.join(',');
const room = (start: Pos, printer: Pos, tableTopLeft: Pos, level = 5): MiniBehaviourInstance => ({
  task: 'minibehaviour',
  level,
  start,
  startDir: 0,
  printer,
  tableTopLeft,
});

/** The official pairwise formula: min over p, t of d(s→p | table ∪ printer) + 1 + d(p→t | table) + 1. */
function officialOptimum(instance: MiniBehaviourInstance): number {
  const n = instance.level;
  const printer = cellIndex(instance.printer, n);
  const table = (index: number): boolean => isTableCell(instance, { row: Math.floor(index / n), col: index % n });
  const toPrinter = gridDistances(n, cellIndex(instance.start, n), (index) => table(index) || index === printer);
  let best = Infinity;
  for (const p of printerNeighbours(instance)) {
    const first = toPrinter[cellIndex(p, n)]!;
    if (first < 0) continue;
    const toTable = gridDistances(n, cellIndex(p, n), table);
    for (const t of tableNeighbours(instance)) {
      const second = toTable[cellIndex(t, n)]!;
      if (second >= 0) best = Math.min(best, first + 1 + second + 1);
    }
  }
  return best;
}

/** Reads agent (with facing), printer and table back from pixels alone. */
function classify(raster: Raster, level: number, style: RenderStyle): Omit<MiniBehaviourInstance, 'task' | 'level'> {
  const frame = { ...createFrame('minibehaviour', level, { style, sizePx: raster.width }, [0, 0, 0]), raster };
  const colours = style === 'paper' ? MINIBEHAVIOUR_PAPER_COLOURS : MINIBEHAVIOUR_COMPACT_COLOURS;
  const found = { start: [] as Pos[], printer: [] as Pos[], table: [] as Pos[] };
  let startDir: 0 | 1 | 2 | 3 = 0;
  for (let row = 0; row < level; row += 1) {
    for (let col = 0; col < level; col += 1) {
      const [x0, y0, x1, y1] = cellBox(frame, { row, col });
      // colour → [pixel count, Σ dx, Σ dy] relative to the cell centre
      const seen = new Map<string, [number, number, number]>();
      for (let y = y0; y < y1; y += 1) {
        for (let x = x0; x < x1; x += 1) {
          const i = 3 * (y * raster.width + x);
          const colour = `${raster.rgb[i]},${raster.rgb[i + 1]},${raster.rgb[i + 2]}`;
          const sums = seen.get(colour) ?? [0, 0, 0];
          seen.set(colour, [sums[0] + 1, sums[1] + x - (x0 + x1 - 1) / 2, sums[2] + y - (y0 + y1 - 1) / 2]);
        }
      }
      const red = seen.get(key(colours.agent));
      if (red) {
        found.start.push({ row, col });
        const [, mx, my] = red;
        // A triangle's mass sits towards its base, so the tip points away from the centroid.
        startDir = Math.abs(mx) > Math.abs(my) ? (mx < 0 ? 0 : 2) : my < 0 ? 1 : 3;
      }
      if (seen.has(key(colours.printer))) found.printer.push({ row, col });
      if (seen.has(key(colours.table))) found.table.push({ row, col });
      expect([...seen.keys()].length).toBeLessThanOrEqual(style === 'paper' ? 3 : 1);
    }
  }
  expect(found.start).toHaveLength(1);
  expect(found.printer).toHaveLength(1);
  expect(found.table).toHaveLength(6);
  return { start: found.start[0]!, startDir: style === 'paper' ? startDir : 0, printer: found.printer[0]!, tableTopLeft: found.table[0]! };
}

describe('minibehaviour rules', () => {
  const example = room({ row: 3, col: 0 }, { row: 1, col: 0 }, { row: 3, col: 2 });

  it('PICK and DROP follow adjacency and carrying; the printer blocks until picked; the table always blocks', () => {
    expect(spec.simulate(example, ['drop']).failure).toEqual({ kind: 'drop_invalid', step: 0 });
    expect(spec.simulate(example, ['pick']).failure).toEqual({ kind: 'pick_invalid', step: 0 });
    expect(spec.simulate(example, ['up', 'pick', 'pick']).failure).toEqual({ kind: 'pick_invalid', step: 2 });
    expect(spec.simulate(example, ['up', 'up']).failure).toEqual({ kind: 'entered_printer', step: 1 });
    expect(spec.simulate(example, ['right', 'right']).failure).toEqual({ kind: 'entered_table', step: 1 });
    expect(spec.simulate(example, ['left']).failure).toEqual({ kind: 'out_of_bounds', step: 0 });
    expect(spec.simulate(example, ['left'], { outOfBounds: 'stay' }).failure).toEqual({ kind: 'goal_not_reached', step: 1 });
    expect(spec.simulate(example, ['up', 'pick', 'up', 'up'])).toMatchObject({ success: false, stepsExecuted: 4 });
    expect(spec.simulate(example, ['up', 'pick', 'right', 'right', 'drop', 'left'])).toMatchObject({
      success: true,
      optimalSuccess: true,
      stepsExecuted: 5,
    });
  });

  it('the prompt example is an optimal plan of its instance', () => {
    const part = miniBehaviourPrompts.studentView(example, 'paper')[0]!.content[0]!;
    const text = part.type === 'text' ? part.text : '';
    expect(text).toContain(miniBehaviourPrompts.readout(example, 'paper'));
    expect(text).toContain('<answer>U,PICK,R,R,DROP</answer>');
    expect(spec.solve(example).optimalLength).toBe(5);
  });

  it('the BFS optimum equals the official pairwise formula', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 5, 6, 7), fc.integer({ min: 0, max: 0xffffffff }), (level, seed) => {
        const instance = spec.generate(level, seed, { bucket: null });
        expect(spec.solve(instance).optimalLength).toBe(officialOptimum(instance));
      }),
      { seed: 41, numRuns: 150 },
    );
  });

  it('reproduces the published optimum of all 403 VPRL test instances', () => {
    const lines = readFileSync(new URL('../../../benchmarks/vprl-minibehaviour-test.jsonl', import.meta.url), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(403);
    for (const line of lines) {
      const r = JSON.parse(line) as { level: number; start: number[]; start_dir: 0 | 1 | 2 | 3; printer: number[]; table: number[][]; optimal_length: number };
      const corner = r.table.reduce((best, [row, col]) => (row! < best[0]! || (row === best[0] && col! < best[1]!) ? [row!, col!] : best), [99, 99]);
      const instance: MiniBehaviourInstance = {
        task: 'minibehaviour',
        level: r.level,
        start: { row: r.start[0]!, col: r.start[1]! },
        startDir: r.start_dir,
        printer: { row: r.printer[0]!, col: r.printer[1]! },
        tableTopLeft: { row: corner[0]!, col: corner[1]! },
      };
      spec.validate(instance);
      expect(tableCells(instance).map((c) => [c.row, c.col]).sort()).toEqual([...r.table].sort());
      expect(spec.solve(instance).optimalLength).toBe(r.optimal_length);
    }
  });

  it('validate names the problem', () => {
    expect(() => spec.validate(room({ row: 3, col: 2 }, { row: 0, col: 0 }, { row: 3, col: 2 }))).toThrow(/agent starts on the table/);
    expect(() => spec.validate(room({ row: 0, col: 0 }, { row: 4, col: 4 }, { row: 3, col: 2 }))).toThrow(/printer stands on the table/);
    expect(() => spec.validate(room({ row: 0, col: 0 }, { row: 0, col: 1 }, { row: 4, col: 0 }))).toThrow(/does not fit/);
    expect(() => spec.validate(room({ row: 0, col: 0 }, { row: 0, col: 0 }, { row: 3, col: 0 }))).toThrow(/starts on the printer/);
    expect(() => spec.validate({ ...room({ row: 0, col: 0 }, { row: 0, col: 1 }, { row: 3, col: 0 }), startDir: 4 as 0 })).toThrow(/startDir 4/);
  });
});

describe('minibehaviour rendering, text and perception', () => {
  it('a per-cell pixel classifier recovers agent (and facing), printer and table in both styles', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 5, 6, 8), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<RenderStyle>('paper', 'compact'), (level, seed, style) => {
        const instance = spec.generate(level, seed, { bucket: null });
        const sizePx = style === 'paper' ? 256 : 8 * level;
        const raster = decodePng(encodePng(spec.render(instance, { style, sizePx })));
        const { task: _task, level: _level, ...expected } = instance;
        expect(classify(raster, level, style)).toEqual(style === 'paper' ? expected : { ...expected, startDir: 0 });
      }),
      { seed: 42, numRuns: 40 },
    );
  });

  it('compact state round-trips (startDir is not part of the puzzle)', () => {
    for (let seed = 0; seed < 30; seed += 1) {
      const instance = spec.generate(5, seed, { bucket: null });
      expect(parseCompactMiniBehaviourState(compactMiniBehaviourState(instance))).toEqual({ ...instance, startDir: 0 });
    }
  });

  it('the paper perception answer lists adjacency sets and legal moves', () => {
    const instance = room({ row: 2, col: 1 }, { row: 1, col: 2 }, { row: 3, col: 1 });
    const item = miniBehaviourPrompts.perception(instance, 'paper');
    expect(item.answer.split('\n').slice(4)).toEqual([
      '5. (0,2), (1,1), (1,3), (2,2)',
      '6. (2,1), (2,2), (2,3), (3,0), (3,4), (4,0), (4,4)',
      '7. up, right, left',
    ]);
  });
});

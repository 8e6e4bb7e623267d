import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cellBox, createFrame } from '../core/canvas.js';
import { decodePng } from '../core/png-decode.js';
import { encodePng, pixelAt } from '../core/raster.js';
import type { FrozenLakeInstance, Raster, RenderStyle } from '../types.js';
import { frozenLakePrompts, frozenLakeSpec as spec } from './index.js';
import { FROZENLAKE_COMPACT_COLOURS, FROZENLAKE_PAPER_COLOURS } from './render.js';
import { compactFrozenLakeState, parseCompactFrozenLakeState } from './text.js';

const map = (...rows: string[]): FrozenLakeInstance => ({ task: 'frozenlake', level: rows.length, rows });
const key = (rgb: readonly number[]): string => rgb.join(',');

/** Reads the map back from pixels alone: one symbol per cell from the colours inside it. */
function classify(raster: Raster, level: number, style: RenderStyle): string[] {
  const frame = { ...createFrame('frozenlake', level, { style, sizePx: raster.width }, [0, 0, 0]), raster };
  const paper = FROZENLAKE_PAPER_COLOURS;
  const allowed: Record<string, string[]> = {
    F: [paper.ice, paper.grid].map(key),
    H: [paper.ice, paper.grid, paper.hole, paper.holeRim].map(key),
    G: [paper.ice, paper.grid, paper.gift, paper.giftLid, paper.ribbon].map(key),
    S: [paper.ice, paper.grid, paper.elfBody, paper.elfHat, paper.skin].map(key),
  };
  const rows: string[] = [];
  for (let row = 0; row < level; row += 1) {
    let line = '';
    for (let col = 0; col < level; col += 1) {
      const [x0, y0, x1, y1] = cellBox(frame, { row, col });
      const colours = new Set<string>();
      for (let y = y0; y < y1; y += 1) {
        for (let x = x0; x < x1; x += 1) colours.add(key(raster.rgb.subarray(3 * (y * raster.width + x), 3 * (y * raster.width + x) + 3)));
      }
      let symbol: string;
      if (style === 'compact') {
        expect(colours.size).toBe(1);
        symbol = Object.entries(FROZENLAKE_COMPACT_COLOURS).find(([, rgb]) => colours.has(key(rgb)))?.[0] ?? '?';
      } else {
        symbol = colours.has(key(paper.hole)) ? 'H' : colours.has(key(paper.gift)) ? 'G' : colours.has(key(paper.elfBody)) ? 'S' : 'F';
        for (const colour of colours) expect(allowed[symbol]).toContain(colour);
      }
      line += symbol;
    }
    rows.push(line);
  }
  return rows;
}

describe('frozenlake rules', () => {
  const lake = map('SFH', 'FHF', 'FFG');

  it('a hole ends the episode, the edge fails or stays per the rules, PICK is not allowed', () => {
    expect(spec.simulate(lake, ['right', 'right']).failure).toEqual({ kind: 'fell_into_hole', step: 1 });
    expect(spec.simulate(lake, ['up', 'down']).failure).toEqual({ kind: 'out_of_bounds', step: 0 });
    const stayed = spec.simulate(lake, ['up', 'down', 'down', 'right', 'right'], { outOfBounds: 'stay' });
    expect(stayed).toMatchObject({ success: true, optimalSuccess: false, stepsExecuted: 5, progressRate: 0 });
    expect(spec.simulate(lake, ['pick']).failure).toEqual({ kind: 'action_not_allowed', step: 0 });
    expect(spec.simulate(lake, []).failure).toEqual({ kind: 'no_answer', step: 0 });
    expect(spec.simulate(lake, ['down']).failure).toEqual({ kind: 'goal_not_reached', step: 1 });
  });

  it('stops at the goal and ignores trailing actions', () => {
    const result = spec.simulate(lake, ['down', 'down', 'right', 'right', 'up', 'up']);
    expect(result).toMatchObject({ success: true, optimalSuccess: true, stepsExecuted: 4, failure: null, progressRate: 1 });
    expect(result.trajectory).toHaveLength(5);
    expect(spec.solve(lake)).toEqual({ optimalLength: 4, numOptimalPlans: 1, plan: ['down', 'down', 'right', 'right'] });
  });

  it('counts optimal plans and breaks ties in L, D, R, U order', () => {
    const open = map('SFF', 'FFF', 'FFG');
    expect(spec.solve(open)).toEqual({ optimalLength: 4, numOptimalPlans: 6, plan: ['down', 'down', 'right', 'right'] });
  });

  it('validate names the problem', () => {
    expect(() => spec.validate(map('SF', 'FF'))).toThrow(/0 G cells, expected exactly one/);
    expect(() => spec.validate(map('SX', 'FG'))).toThrow(/cell \(0,1\) is "X"/);
    expect(() => spec.validate(map('SH', 'HG'))).toThrow(/no action plan reaches the goal/);
    expect(() => spec.validate({ task: 'frozenlake', level: 3, rows: ['SFG'] })).toThrow(/rows must be 3 strings/);
  });

  it('honours minPathLength and holeProbability', () => {
    for (let seed = 0; seed < 50; seed += 1) {
      const instance = spec.generate(5, seed, { bucket: null, minPathLength: 6, holeProbability: 0.3 });
      expect(spec.solve(instance).optimalLength).toBeGreaterThanOrEqual(6);
    }
    const clear = spec.generate(6, 1, { bucket: null, holeProbability: 0 });
    expect(clear.rows.join('')).not.toContain('H');
    expect(() => spec.generate(3, 1, { bucket: null, minPathLength: 9 })).toThrow(/minPathLength 9/);
    expect(() => spec.generate(3, 1, { bucket: null, holeProbability: 1 })).toThrow(/holeProbability 1/);
  });
});

describe('frozenlake rendering', () => {
  it('a per-cell colour classifier recovers the whole map in both styles', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 3, 4, 5, 6, 8, 12), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<RenderStyle>('paper', 'compact'), (level, seed, style) => {
        const instance = spec.generate(level, seed, { bucket: null, holeProbability: 0.3 });
        const sizePx = style === 'paper' ? (level > 8 ? 512 : 256) : 8 * level + 16;
        const raster = decodePng(encodePng(spec.render(instance, { style, sizePx })));
        expect(classify(raster, level, style)).toEqual(instance.rows);
      }),
      { seed: 21, numRuns: 40 },
    );
  });

  it('pads the compact grid with black and rejects sizes that do not fit', () => {
    const raster = spec.render(map('SF', 'FG'), { style: 'compact', sizePx: 40 });
    expect(pixelAt(raster, 16, 0)).toEqual([0, 0, 0]);
    expect(pixelAt(raster, 39, 39)).toEqual([0, 0, 0]);
    expect(() => spec.render(map('SFF', 'FFF', 'FFG'), { style: 'compact', sizePx: 20 })).toThrow(/multiple of 8 px of at least 24/);
    expect(() => spec.render(map('SF', 'FG'), { style: 'paper', sizePx: 8 })).toThrow(/at least 8 px per cell/);
  });

  it('draws a path over the image in both styles', () => {
    const instance = map('SF', 'FG');
    for (const style of ['paper', 'compact'] as const) {
      const sizePx = style === 'paper' ? 64 : 16;
      const plain = spec.render(instance, { style, sizePx });
      const drawn = spec.render(instance, { style, sizePx, path: spec.simulate(instance, ['right', 'down']).trajectory });
      expect(Buffer.from(drawn.rgb).equals(Buffer.from(plain.rgb))).toBe(false);
    }
  });
});

describe('frozenlake text and prompts', () => {
  it('compact state round-trips', () => {
    for (let seed = 0; seed < 30; seed += 1) {
      const instance = spec.generate(4, seed, { bucket: null });
      expect(parseCompactFrozenLakeState(compactFrozenLakeState(instance))).toEqual(instance);
    }
  });

  it('the example in the prompt is a real optimal answer', () => {
    const example = map('FGFF', 'FHFF', 'SFFF', 'FFFH');
    const text = frozenLakePrompts.studentView(example, 'paper')[0]!.content[0]!;
    expect(text.type === 'text' && text.text).toContain('<answer>UUR</answer>');
    expect(spec.simulate(example, ['up', 'up', 'right']).optimalSuccess).toBe(true);
  });

  it('solves every published VSP and VPRL FrozenLake map with the published optimum', () => {
    for (const file of ['vsp-frozenlake.jsonl', 'vprl-frozenlake-test.jsonl']) {
      const lines = readFileSync(new URL(`../../../benchmarks/${file}`, import.meta.url), 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(600);
      for (const line of lines) {
        const record = JSON.parse(line) as { level: number; rows: string[]; optimal_length?: number };
        const instance = map(...record.rows);
        spec.validate(instance);
        if (record.optimal_length !== undefined) expect(spec.solve(instance).optimalLength).toBe(record.optimal_length);
      }
    }
  });
});

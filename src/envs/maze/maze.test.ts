import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { cellBox, createFrame } from '../core/canvas.js';
import { decodePng } from '../core/png-decode.js';
import { encodePng, pixelAt } from '../core/raster.js';
import type { MazeInstance, Pos, Raster, RenderStyle } from '../types.js';
import { mazePrompts, mazeSpec as spec } from './index.js';
import { WALL_BITS } from './instance.js';
import { MAZE_COMPACT_COLOURS, MAZE_PAPER_COLOURS, paperWallGeometry } from './render.js';
import { compactMazeState, parseCompactMazeState } from './text.js';

const key = (rgb: readonly number[]): string => rgb.join(',');

/** The 2×2 maze of the prompt example: (0,0)–(0,1)–(1,1)–(1,0). */
const EXAMPLE: MazeInstance = { task: 'maze', level: 2, walls: [[7, 9], [7, 10]], start: { row: 0, col: 0 }, goal: { row: 1, col: 1 } };

/** Reads masks, start and goal back from pixels alone. */
function classify(raster: Raster, level: number, style: RenderStyle): Omit<MazeInstance, 'task' | 'level'> {
  const frame = { ...createFrame('maze', level, { style, sizePx: raster.width }, [0, 0, 0]), raster };
  const walls: number[][] = [];
  let start: Pos | null = null;
  let goal: Pos | null = null;
  const g = style === 'paper' ? paperWallGeometry(frame) : null;
  const wallColour = key(style === 'paper' ? MAZE_PAPER_COLOURS.wall : MAZE_COMPACT_COLOURS.wall);
  const colours = style === 'paper' ? MAZE_PAPER_COLOURS : MAZE_COMPACT_COLOURS;
  for (let row = 0; row < level; row += 1) {
    walls.push([]);
    for (let col = 0; col < level; col += 1) {
      const [x0, y0, x1, y1] = cellBox(frame, { row, col });
      const xm = g ? Math.floor((x0 + g.after + x1 - g.before) / 2) : x0 + 4;
      const ym = g ? Math.floor((y0 + g.after + y1 - g.before) / 2) : y0 + 4;
      const probes: [number, number, number][] = [
        [WALL_BITS.up, xm, y0],
        [WALL_BITS.down, xm, y1 - 1],
        [WALL_BITS.left, x0, ym],
        [WALL_BITS.right, x1 - 1, ym],
      ];
      let mask = 0;
      for (const [bit, x, y] of probes) if (key(pixelAt(raster, x, y)) === wallColour) mask |= bit;
      walls[row]!.push(mask);
      const centre = key(pixelAt(raster, xm, ym));
      if (centre === key(colours.start)) start = { row, col };
      if (centre === key(colours.goal)) goal = { row, col };
    }
  }
  return { walls, start: start!, goal: goal! };
}

describe('maze rules', () => {
  it('walls and the border fail with crossed_wall; PICK is not allowed', () => {
    expect(spec.simulate(EXAMPLE, ['down']).failure).toEqual({ kind: 'crossed_wall', step: 0 });
    expect(spec.simulate(EXAMPLE, ['up'], { outOfBounds: 'stay' }).failure).toEqual({ kind: 'crossed_wall', step: 0 });
    expect(spec.simulate(EXAMPLE, ['right', 'drop']).failure).toEqual({ kind: 'action_not_allowed', step: 1 });
    expect(spec.simulate(EXAMPLE, ['right', 'down'])).toMatchObject({ success: true, optimalSuccess: true, progressRate: 1 });
    expect(spec.solve(EXAMPLE)).toEqual({ optimalLength: 2, numOptimalPlans: 1, plan: ['right', 'down'] });
  });

  it('generates perfect mazes: N²−1 openings, every cell reachable', () => {
    for (let seed = 0; seed < 40; seed += 1) {
      const maze = spec.generate(2 + (seed % 6), seed, { bucket: null });
      const openings = maze.walls.flat().reduce((sum, mask) => sum + (mask & WALL_BITS.right ? 0 : 1) + (mask & WALL_BITS.down ? 0 : 1), 0);
      expect(openings).toBe(maze.level * maze.level - 1);
      expect(spec.solve(maze).numOptimalPlans).toBe(1);
    }
  });

  it('validate names asymmetric walls, open borders and bad masks', () => {
    expect(() => spec.validate({ ...EXAMPLE, walls: [[7, 13], [7, 10]] })).toThrow(/disagree about the wall/);
    expect(() => spec.validate({ ...EXAMPLE, walls: [[6, 9], [7, 10]] })).toThrow(/open to the up on the border/);
    expect(() => spec.validate({ ...EXAMPLE, walls: [[16, 9], [7, 10]] })).toThrow(/expected an integer mask 0–15/);
    expect(() => spec.validate({ ...EXAMPLE, goal: { row: 0, col: 0 } })).toThrow(/start and goal are the same cell/);
    expect(() => spec.validate({ ...EXAMPLE, walls: [[15, 15], [15, 15]] })).toThrow(/no action plan reaches the goal/);
  });
});

describe('maze rendering', () => {
  it('a per-cell pixel classifier recovers masks, start and goal in both styles', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 3, 4, 5, 6, 9), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<RenderStyle>('paper', 'compact'), (level, seed, style) => {
        const instance = spec.generate(level, seed, { bucket: null });
        const sizePx = style === 'paper' ? 256 : 8 * level;
        const raster = decodePng(encodePng(spec.render(instance, { style, sizePx })));
        expect(classify(raster, level, style)).toEqual({ walls: instance.walls, start: instance.start, goal: instance.goal });
      }),
      { seed: 31, numRuns: 40 },
    );
  });
});

describe('maze text and prompts', () => {
  it('compact state round-trips', () => {
    for (let seed = 0; seed < 30; seed += 1) {
      const instance = spec.generate(3 + (seed % 4), seed, { bucket: null });
      expect(parseCompactMazeState(compactMazeState(instance))).toEqual(instance);
    }
  });

  it('the example in the prompt is a real optimal answer', () => {
    const part = mazePrompts.studentView(EXAMPLE, 'paper')[0]!.content[0]!;
    const example = part.type === 'text' ? part.text : '';
    const statement = mazePrompts.readout(EXAMPLE, 'paper');
    expect(example).toContain(statement);
    expect(example).toContain('<answer>RD</answer>');
  });
});

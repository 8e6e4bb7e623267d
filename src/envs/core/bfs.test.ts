import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { frozenLakeKernel } from '../frozenlake/instance.js';
import { frozenLakeSpec } from '../frozenlake/index.js';
import { mazeKernel } from '../maze/instance.js';
import { mazeSpec } from '../maze/index.js';
import { miniBehaviourKernel } from '../minibehaviour/instance.js';
import { miniBehaviourSpec } from '../minibehaviour/index.js';
import type { Instance } from '../types.js';
import type { Kernel } from './bfs.js';
import { analyzeKernel, gridDistances, shortestPlanLength, solveKernel } from './bfs.js';

const seedArb = fc.integer({ min: 0, max: 0xffffffff });
const makers: [string, (level: number, seed: number) => [Instance, Kernel]][] = [
  ['frozenlake', (level, seed) => { const i = frozenLakeSpec.generate(level, seed, { bucket: null, holeProbability: 0.3 }); return [i, frozenLakeKernel(i)]; }],
  ['maze', (level, seed) => { const i = mazeSpec.generate(level, seed, { bucket: null }); return [i, mazeKernel(i)]; }],
  ['minibehaviour', (level, seed) => { const i = miniBehaviourSpec.generate(level + 2, seed, { bucket: null }); return [i, miniBehaviourKernel(i)]; }],
];

describe.each(makers)('%s kernel', (_name, make) => {
  it('the fast solver, the full analysis and the forward BFS agree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), seedArb, (level, seed) => {
        const [, kernel] = make(level, seed);
        const full = analyzeKernel(kernel)!;
        const fast = solveKernel(kernel)!;
        expect(fast).toEqual({ optimalLength: full.optimalLength, numOptimalPlans: full.numOptimalPlans, plan: full.plan });
        expect(shortestPlanLength(kernel)).toBe(full.optimalLength);
        expect(full.costToGoal[kernel.start]).toBe(full.optimalLength);
      }),
      { seed: 51, numRuns: 80 },
    );
  });
});

describe('unsolvable kernels and grid distances', () => {
  it('report no solution', () => {
    const walled = frozenLakeKernel({ task: 'frozenlake', level: 2, rows: ['SH', 'HG'] });
    expect(analyzeKernel(walled)).toBeNull();
    expect(solveKernel(walled)).toBeNull();
    expect(shortestPlanLength(walled)).toBe(-1);
  });

  it('gridDistances never enters blocked cells', () => {
    // 3×3, middle column blocked except the bottom: from (0,0) to (0,2) goes round the bottom.
    const dist = gridDistances(3, 0, (index) => index === 1 || index === 4);
    expect(dist[2]).toBe(6);
    expect(dist[4]).toBe(-1);
  });
});

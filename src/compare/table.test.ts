import { describe, expect, it } from 'vitest';

import type { ResultsFile } from '../eval/results.js';
import type { ComparedRun, PuzzleOutcome } from './read-runs.js';
import { compareRuns } from './table.js';

/** A run of one task (maze) with 10 puzzles, `successes` of which the mgsd/image model solved. */
function run(estimator: string, seed: number, successes: number[]): ComparedRun {
  const rate = successes.length / 10;
  const outcomes = new Map<string, PuzzleOutcome>(Array.from({ length: 10 }, (_, i) => [`p${i}`, { id: `p${i}`, task: 'maze', success: successes.includes(i) }]));
  const results = {
    rows: [{ model: 'mgsd', input: 'image', task: 'maze', success: rate, levels: [{ level: 3, n: 10, success: rate, optimal_success: rate }] }],
    macro: { 'mgsd/image': rate },
  } as unknown as ResultsFile;
  return { dir: `/runs/${estimator}-${seed}`, config: { seed, name: 'x', data: { seed: 0 }, stages: { opsd: { estimator } } }, seed, dataSeed: 0, results, outcomes: () => outcomes };
}

describe('compareRuns', () => {
  const runs = [run('full', 0, [0, 1, 2, 3, 4, 5]), run('full', 1, [0, 1, 2, 3]), run('sampled', 0, [0, 1]), run('sampled', 1, [0, 1, 2, 3])];

  it('groups runs by the keys that differ and summarises over seeds', () => {
    const comparison = compareRuns(runs, [], null);
    expect(comparison.grid_keys).toEqual(['stages.opsd.estimator']);
    expect(comparison.reference).toBe('mgsd/image@stages.opsd.estimator=full');
    const sampled = comparison.rows.find((row) => row.variant === 'stages.opsd.estimator=sampled' && row.task === 'maze')!;
    expect(sampled.per_seed).toEqual([0.2, 0.4]);
    expect(sampled.mean).toBeCloseTo(0.3, 12);
    expect(sampled.sd).toBeCloseTo(Math.SQRT2 * 0.1, 12);
    // t(1) = 12.706: 0.3 ± 12.706 · 0.141421 / √2
    expect(sampled.ci95![1]).toBeCloseTo(0.3 + 12.706 * 0.1, 9);
    expect(sampled.delta).toBeCloseTo(-0.2, 12);
    // Discordant puzzles: seed 0 has p2..p5 (reference right, row wrong) = c 4; seed 1 none. p = 2 / 16.
    expect(sampled.test).toMatchObject({ n_pairs: 20, seeds: [0, 1], mcnemar_b: 0, mcnemar_c: 4 });
    expect(sampled.test!.mcnemar_p).toBeCloseTo(0.125, 12);
    // Power: one cell of 10 puzzles, 2 seeds, discordance 4/20: 2.8016 · √(0.2 / 10 / 2) = 0.28.
    expect(sampled.test!.mdd).toBeCloseTo((1.959964 + 0.841621) * Math.sqrt(0.2 / 10 / 2), 9);
    expect(comparison.power).toMatchObject({ alpha: 0.05, power: 0.8, seeds: 2, cells: [{ task: 'maze', level: 3, n: 10 }] });
    const reference = comparison.rows.find((row) => row.variant === 'stages.opsd.estimator=full' && row.task === 'maze')!;
    expect(reference.note).toBe('reference');
  });

  it('does not pair runs scored on different puzzles', () => {
    const other = { ...run('sampled', 0, [0]), dataSeed: 5 };
    const comparison = compareRuns([run('full', 0, [0]), other], ['stages.opsd.estimator'], null);
    const row = comparison.rows.find((r) => r.variant.endsWith('sampled') && r.task === 'macro')!;
    expect(row.test).toBeNull();
    expect(row.note).toMatch(/data\.seed/);
  });

  it('names the model/input and the variants a bad --reference could use', () => {
    expect(() => compareRuns(runs, [], 'sft/image')).toThrow(/no model\/input "sft\/image".*/);
    expect(() => compareRuns(runs, [], 'mgsd/image@nope')).toThrow(/no variant "nope"/);
  });

  it('adds each out-of-distribution set and their macro as tasks of their own, paired on the set puzzles', () => {
    const withOod = (estimator: string, seed: number, hits: number[]): ComparedRun => {
      const base = run(estimator, seed, [0]);
      const ood = new Map<string, PuzzleOutcome>(Array.from({ length: 4 }, (_, i) => [`vsp/${i}`, { id: `vsp/${i}`, task: 'frozenlake', success: hits.includes(i) }]));
      const results = {
        ...base.results,
        out_of_distribution: {
          sets: [{ name: 'vsp', kind: 'vsp-frozenlake', levels: [3] }],
          rows: [{ model: 'mgsd', input: 'image', set: 'vsp', task: 'frozenlake', success: hits.length / 4 }],
          macro: { 'mgsd/image': hits.length / 4 },
          macro_optimal: {},
        },
      } as unknown as ResultsFile;
      return { ...base, results, outcomes: (modelInput, set) => (set === 'vsp' ? ood : base.outcomes(modelInput)) };
    };
    const comparison = compareRuns([withOod('full', 0, [0, 1, 2]), withOod('sampled', 0, [0])], ['stages.opsd.estimator'], null);
    expect([...new Set(comparison.rows.map((row) => row.task))]).toEqual(['maze', 'macro', 'ood:vsp', 'ood:macro']);
    const sampled = comparison.rows.filter((row) => row.variant.endsWith('sampled') && row.task.startsWith('ood:'));
    expect(sampled.map((row) => [row.task, row.mean, row.delta])).toEqual([
      ['ood:vsp', 0.25, -0.5],
      ['ood:macro', 0.25, -0.5],
    ]);
    expect(sampled[0]!.test).toMatchObject({ n_pairs: 4, mcnemar_b: 0, mcnemar_c: 2 });
    // The in-distribution macro is untouched by the sets.
    expect(comparison.rows.find((row) => row.variant.endsWith('sampled') && row.task === 'macro')!.mean).toBe(0.1);
  });
});

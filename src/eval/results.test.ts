import { describe, expect, it } from 'vitest';

import type { GradedSample } from '../rollout/grade.js';
import { summarizeMetrics } from './metrics.js';
import { assembleResults, type ModelEvaluation, ResultsFileSchema } from './results.js';

/** A summary where `task` succeeds on `hits` of 10 samples at level 3. */
function summary(hits: Record<string, number>) {
  const samples: GradedSample[] = Object.entries(hits).flatMap(([task, count]) =>
    Array.from({ length: 10 }, (_, i) => ({
      task: task as GradedSample['task'],
      level: 3,
      parsed: true,
      success: i < count,
      optimalSuccess: i < count,
      failure: i < count ? null : 'goal_not_reached',
    })),
  );
  return summarizeMetrics(samples);
}

const evaluation = (image: Record<string, number> | null, text: Record<string, number> | null): ModelEvaluation => ({
  image: image && summary(image),
  text: text && summary(text),
  perception: null,
});

describe('assembleResults', () => {
  const results = assembleResults(
    [
      ['base', evaluation({ frozenlake: 1, maze: 1 }, { frozenlake: 9, maze: 7 })],
      ['sft', evaluation({ frozenlake: 5, maze: 3 }, null)],
      ['mgsd', evaluation({ frozenlake: 8, maze: 5 }, { frozenlake: 9, maze: 6 })],
    ],
    { name: 't', seed: 0, profile: 'compact', model: 'tiny', dataset: '/d' },
    12.34,
  );

  it('writes one row per model, input and task, and the macro per model/input', () => {
    expect(results.rows.map((row) => `${row.model}/${row.input}/${row.task}`)).toEqual([
      'base/image/frozenlake',
      'base/image/maze',
      'base/text/frozenlake',
      'base/text/maze',
      'sft/image/frozenlake',
      'sft/image/maze',
      'mgsd/image/frozenlake',
      'mgsd/image/maze',
      'mgsd/text/frozenlake',
      'mgsd/text/maze',
    ]);
    expect(results.macro).toEqual({ 'base/image': 0.1, 'base/text': 0.8, 'sft/image': 0.4, 'mgsd/image': 0.65, 'mgsd/text': 0.75 });
  });

  it('measures the share of the sft→base/text gap that OPSD closed', () => {
    expect(results.gap_closed).toBeCloseTo((0.65 - 0.4) / (0.8 - 0.4));
  });

  it('reports the modality gap as text − image', () => {
    expect(results.modality_gap.base).toEqual({ frozenlake: 0.8, maze: 0.6, macro: 0.7 });
    expect(results.modality_gap.sft).toBeUndefined();
  });
});

describe('assembleResults with out-of-distribution sets', () => {
  const set = (name: string, image: Record<string, number>, text: Record<string, number> | null) => ({ set: name, kind: name, levels: [3], image: summary(image), text: text && summary(text) });
  const results = assembleResults(
    [
      ['base', { ...evaluation({ frozenlake: 1 }, { frozenlake: 9 }), outOfDistribution: [set('vsp', { frozenlake: 2 }, { frozenlake: 6 }), set('vprl', { frozenlake: 4 }, { frozenlake: 8 })] }],
      ['sft', { ...evaluation({ frozenlake: 5 }, null), outOfDistribution: [set('vsp', { frozenlake: 3 }, null), set('vprl', { frozenlake: 7 }, null)] }],
      ['mgsd', evaluation({ frozenlake: 7 }, null)],
    ],
    { name: 't', seed: 0, profile: 'compact', model: 'tiny', dataset: '/d' },
    1,
  );

  it('writes one row per model, input and set, with n and the 95 % interval', () => {
    const ood = results.out_of_distribution;
    expect(ood.sets).toEqual([{ name: 'vsp', kind: 'vsp', levels: [3] }, { name: 'vprl', kind: 'vprl', levels: [3] }]);
    expect(ood.rows.map((row) => `${row.model}/${row.input}/${row.set} ${row.n} ${row.success}`)).toEqual([
      'base/image/vsp 10 0.2',
      'base/text/vsp 10 0.6',
      'base/image/vprl 10 0.4',
      'base/text/vprl 10 0.8',
      'sft/image/vsp 10 0.3',
      'sft/image/vprl 10 0.7',
    ]);
    expect(ood.rows[0]!.success_ci[0]).toBeLessThan(0.2);
    expect(ood.rows[0]!.success_ci[1]).toBeGreaterThan(0.2);
  });

  it('keeps the macro over sets apart: the in-distribution macro and gap_closed ignore the sets', () => {
    expect(results.out_of_distribution.macro).toEqual({ 'base/image': 0.3, 'base/text': 0.7, 'sft/image': 0.5 });
    expect(results.macro).toEqual({ 'base/image': 0.1, 'base/text': 0.9, 'sft/image': 0.5, 'mgsd/image': 0.7 });
    expect(results.rows).toHaveLength(4);
    expect(results.gap_closed).toBe(0.5); // (0.7 − 0.5) / (0.9 − 0.5)
  });

  it('reads results written before the sets existed as having none', () => {
    const { out_of_distribution: _ood, ...old } = results;
    expect(ResultsFileSchema.parse(old).out_of_distribution).toEqual({ sets: [], rows: [], macro: {}, macro_optimal: {} });
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DataError } from '../errors.js';
import { getEnv } from '../envs/index.js';
import type { Instance } from '../envs/types.js';
import { readBenchmark, resolveBenchmarkFile } from './benchmarks.js';
import { buildDataset, type DatasetBuildInput, type TaskBuildInput } from './build.js';
import { openDataset } from './dataset.js';
import { NO_PROGRESS } from './progress.js';
import { drawGroup } from './splits.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-build-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function task(levels: number[], train: number, val: number, test: number, stratify = false): TaskBuildInput {
  return { levels, perLevel: { train, val, test }, stratify, holeProbability: 0.2, minPathLength: 1 };
}

function input(tasks: DatasetBuildInput['tasks'], extra: Partial<DatasetBuildInput> = {}): DatasetBuildInput {
  return { seed: 3, tasks, renderStyle: 'compact', imageSizePx: 40, benchmarks: [], ...extra };
}

let counter = 0;
function build(data: DatasetBuildInput): ReturnType<typeof openDataset> {
  counter += 1;
  const out = join(root, `ds-${counter}`);
  buildDataset(data, { out, shouldReplace: false, toolVersion: 'test', progress: NO_PROGRESS, configDir: null });
  return openDataset(out);
}

function keyOf(instance: Instance): string {
  return getEnv(instance.task).spec.dedupKey(instance);
}

describe('buildDataset', () => {
  it('deduplicates within and across splits, skipping duplicates', () => {
    const dataset = build(input({ frozenlake: task([3], 300, 50, 100) }));
    const keys = dataset.records.map((record) => keyOf(record.instance as Instance));
    expect(keys).toHaveLength(450);
    expect(new Set(keys).size).toBe(450);
    // At level 3 duplicates are common, so some candidates must have been skipped.
    const skipped = dataset.records.some((record) => record.source.kind === 'generated' && record.source.candidate > Number(record.id.slice(-5)));
    expect(skipped).toBe(true);
    expect(dataset.manifest.counts.frozenlake!['3']!.train!.total).toBe(300);
  });

  it('keeps the published test sets out of every split', () => {
    const vsp = readBenchmark('vsp-frozenlake', resolveBenchmarkFile('benchmarks/vsp-frozenlake.jsonl'));
    const published = new Set(vsp.entries.map((entry) => keyOf(entry.instance)));
    const sizes = task([3], 200, 0, 100);
    const overlap = (dataset: ReturnType<typeof openDataset>): number =>
      dataset.records.filter((record) => published.has(keyOf(record.instance as Instance))).length;
    expect(overlap(build(input({ frozenlake: sizes })))).toBeGreaterThan(0);
    const clean = build(input({ frozenlake: sizes }, { benchmarks: [{ kind: 'vsp-frozenlake', file: 'benchmarks/vsp-frozenlake.jsonl', limitPerLevel: 0 }] }));
    expect(overlap(clean)).toBe(0);
    const origin = clean.manifest.origin;
    expect(origin.kind === 'build' && origin.benchmarksExcluded[0]).toMatchObject({ kind: 'vsp-frozenlake', records: 600 });
  });

  it('asks for easy/medium/hard round-robin when stratified', () => {
    const dataset = build(input({ maze: task([4], 0, 0, 30, true), minibehaviour: task([5], 0, 0, 30, true) }));
    for (const name of ['maze', 'minibehaviour'] as const) {
      const counts = dataset.manifest.counts[name]!;
      const level = Object.values(counts)[0]!.test!;
      expect(level).toMatchObject({ total: 30, easy: 10, medium: 10, hard: 10 });
    }
  });

  it('writes records that name their image, seed and solution consistently', () => {
    const dataset = build(input({ minibehaviour: task([5], 4, 2, 2) }));
    const manifest = JSON.parse(readFileSync(join(dataset.dir, 'manifest.json'), 'utf8'));
    for (const record of dataset.records) {
      expect(manifest.files[record.image]).toMatch(/^[0-9a-f]{64}$/);
      const spec = getEnv(record.task).spec;
      const replay = spec.simulate(record.instance as Instance, record.solution.plan);
      expect(replay.optimalSuccess).toBe(true);
      expect(spec.solve(record.instance as Instance).optimalLength).toBe(record.solution.optimalLength);
    }
    expect(dataset.records.map((record) => record.split)).toEqual(['train', 'train', 'train', 'train', 'val', 'val', 'test', 'test']);
  });

  it('fails with a clear error, and writes nothing, when a level has too few distinct puzzles', () => {
    const out = join(root, 'exhausted');
    const call = (): unknown =>
      buildDataset(input({ maze: task([2], 500, 0, 0) }), { out, shouldReplace: false, toolVersion: 'test', progress: NO_PROGRESS, configDir: null });
    expect(call).toThrow(DataError);
    expect(call).toThrow(/maze level 2 split train: found only \d+ of 500 distinct instances/);
    expect(() => openDataset(out)).toThrow(/not an mgsd dataset/);
  });
});

describe('drawGroup', () => {
  it('is a pure function of the seed and the group', () => {
    const request = { task: 'maze' as const, split: 'train' as const, level: 4, count: 12, seed: 9, stratify: true, generate: {} };
    const spec = getEnv('maze').spec;
    const first = drawGroup(spec, request, new Set());
    expect(drawGroup(spec, request, new Set())).toEqual(first);
    expect(drawGroup(spec, { ...request, seed: 10 }, new Set())).not.toEqual(first);
    expect(drawGroup(spec, { ...request, split: 'val' }, new Set())).not.toEqual(first);
  });
});

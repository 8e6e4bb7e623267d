import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readBenchmark, resolveBenchmarkFile } from '../data/benchmarks.js';
import type { DataRecord } from '../data/schema.js';
import { decodePng } from '../envs/index.js';
import { toBuildInput } from './dataset-input.js';
import { ensureDataset } from './dataset-stage.js';
import { loadConfig } from './load.js';
import { assertDisjoint, ensureOodSets } from './ood-sets.js';

const work = mkdtempSync(join(tmpdir(), 'mgsd-ood-sets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SETS = [
  '{kind: vsp-frozenlake, file: benchmarks/vsp-frozenlake.jsonl, levels: [4, 3], limitPerLevel: 2}',
  '{kind: vprl-minibehaviour, file: benchmarks/vprl-minibehaviour-test.jsonl, levels: [5]}',
];

function configWith(sets: readonly string[], cacheDir = join(work, 'cache')) {
  return loadConfig('tiny', [`eval.outOfDistribution=[${sets.join(', ')}]`, `data.cacheDir=${cacheDir}`]).config;
}

function silentProgress(notes: string[] = []) {
  return { note: (message: string) => notes.push(message), stage: () => ({ update: () => undefined, done: () => undefined }) };
}

const EMPTY_DATASET = { dir: '/d', records: [] as DataRecord[] };

describe('ensureOodSets', () => {
  it('imports the configured levels (at most limitPerLevel each, in file order) at the run image size, then reuses the import', () => {
    const notes: string[] = [];
    const [fl, mb] = ensureOodSets(configWith(SETS), null, EMPTY_DATASET as never, silentProgress(notes));
    expect(fl!.name).toBe('vsp-frozenlake');
    expect(fl!.levels).toEqual([3, 4]);
    const published = readBenchmark('vsp-frozenlake', resolveBenchmarkFile('benchmarks/vsp-frozenlake.jsonl')).entries;
    const firstTwo = (level: number) => published.filter((entry) => entry.instance.level === level).slice(0, 2).map((entry) => entry.id);
    expect(fl!.records.map((record) => record.id)).toEqual([...firstTwo(3), ...firstTwo(4)]);
    expect(fl!.records.every((record) => record.split === 'test' && record.task === 'frozenlake')).toBe(true);
    expect(mb!.records).toHaveLength(204); // every level-5 record of the file
    const png = decodePng(readFileSync(join(fl!.dir, fl!.records[0]!.image)));
    expect([png.width, png.height]).toEqual([40, 40]); // the tiny preset's compact 40-px images
    expect(notes.filter((note) => note.startsWith('[data] importing'))).toHaveLength(2);

    const again: string[] = [];
    const reused = ensureOodSets(configWith(SETS), null, EMPTY_DATASET as never, silentProgress(again));
    expect(reused.map((set) => [set.dir, set.key])).toEqual([fl, mb].map((set) => [set!.dir, set!.key]));
    expect(again.filter((note) => note.startsWith('[data] reusing'))).toHaveLength(2);
  });

  it('gives another limit its own import and key', () => {
    const [one] = ensureOodSets(configWith([SETS[0]!]), null, EMPTY_DATASET as never, silentProgress());
    const [other] = ensureOodSets(configWith([SETS[0]!.replace('limitPerLevel: 2', 'limitPerLevel: 3')]), null, EMPTY_DATASET as never, silentProgress());
    expect(other!.key).not.toBe(one!.key);
    expect(other!.records).toHaveLength(6);
  });

  it('refuses a level the file does not hold, naming the key and the levels kept', () => {
    const config = configWith(['{kind: vprl-minibehaviour, file: benchmarks/vprl-minibehaviour-test.jsonl, levels: [4, 5]}']);
    expect(() => ensureOodSets(config, null, EMPTY_DATASET as never, silentProgress())).toThrow(
      /eval\.outOfDistribution\[0\]\.levels: benchmarks\/vprl-minibehaviour-test\.jsonl has no record of level\(s\) 4 \(kept levels: 5\)/,
    );
  });

  it('refuses a set that shares a puzzle with the train split of the run dataset', () => {
    const [fl] = ensureOodSets(configWith([SETS[0]!]), null, EMPTY_DATASET as never, silentProgress());
    const twin = { ...fl!.records[1]!, id: 'frozenlake-L3-train-00007', split: 'train' as const };
    expect(() => assertDisjoint({ dir: '/runs/.datasets/x', records: [twin] }, [fl!])).toThrow(
      `out-of-distribution set vsp-frozenlake: ${fl!.records[1]!.id} is the same puzzle as frozenlake-L3-train-00007 (train split) of /runs/.datasets/x`,
    );
    // Test and val are drawn as without the sets: a published puzzle there is evaluated twice, never trained on.
    expect(() => assertDisjoint({ dir: '/d', records: [{ ...twin, split: 'test' }, { ...twin, split: 'val' }] }, [fl!])).not.toThrow();
  });
});

describe('configuring out-of-distribution sets', () => {
  it('keeps every listed file out of the train split, whole, and leaves the build input of a config without sets as it was', () => {
    const input = toBuildInput(configWith(SETS));
    expect(input.benchmarks).toEqual([]);
    expect(input.trainOnlyExclusions).toEqual([
      { kind: 'vsp-frozenlake', file: 'benchmarks/vsp-frozenlake.jsonl', limitPerLevel: 0 },
      { kind: 'vprl-minibehaviour', file: 'benchmarks/vprl-minibehaviour-test.jsonl', limitPerLevel: 0 },
    ]);
    expect(Object.keys(toBuildInput(configWith([])))).not.toContain('trainOnlyExclusions');
  });

  it('builds the same test and val splits as without the sets, and a train split without any published puzzle', () => {
    const small = ['tasks.maze.enabled=false', 'tasks.minibehaviour.enabled=false', 'tasks.frozenlake={levels: [3], perLevel: {train: 400, val: 20, test: 100}}'];
    const build = (sets: readonly string[], name: string) => {
      const config = loadConfig('tiny', [...small, `eval.outOfDistribution=[${sets.join(', ')}]`, `data.cacheDir=${join(work, name)}`]).config;
      return ensureDataset(config, null, silentProgress()).dataset;
    };
    const plain = build([], 'plain');
    const kept = build([SETS[0]!], 'kept');
    const split = (records: readonly DataRecord[], name: string) => records.filter((record) => record.split === name).map((record) => record.id + JSON.stringify(record.instance));
    expect(split(kept.records, 'test')).toEqual(split(plain.records, 'test'));
    expect(split(kept.records, 'val')).toEqual(split(plain.records, 'val'));
    const [vsp] = ensureOodSets(configWith([SETS[0]!.replace('levels: [4, 3]', 'levels: [3]').replace('limitPerLevel: 2', 'limitPerLevel: 0')]), null, EMPTY_DATASET as never, silentProgress());
    // Without the exclusion the train split does hold published puzzles (3×3 FrozenLake has few distinct ones).
    expect(() => assertDisjoint(plain, [vsp!])).toThrow(/is the same puzzle as frozenlake-L3-train-/);
    expect(() => assertDisjoint(kept, [vsp!])).not.toThrow();
  });

  it('the tiny preset evaluates the published sets at the levels it trains on', () => {
    const sets = loadConfig('tiny').config.eval.outOfDistribution;
    expect(sets.map((set) => `${set.kind} ${set.levels.join(',')}`)).toEqual(['vsp-frozenlake 3,4', 'vprl-frozenlake 3,4', 'vprl-minibehaviour 5']);
  });

  it('rejects levels that do not fit the compact image and two sets of one file', () => {
    expect(() => configWith(['{kind: vsp-frozenlake, file: benchmarks/vsp-frozenlake.jsonl, levels: [3, 6]}'])).toThrow(
      /eval\.outOfDistribution\.0\.levels: level\(s\) 6 do not fit 40-px compact images/,
    );
    expect(() => configWith([SETS[0]!, SETS[0]!])).toThrow(/eval\.outOfDistribution\.1\.file: two sets named "vsp-frozenlake"/);
  });
});

/**
 * `rollout/` without a model: views and their images, grading, and the JSON form of rollout
 * batches. Records come from a real dataset built by the real builder into a temp folder, so the
 * images the views carry can be checked against the PNG files the dataset wrote.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tensor } from '../backend/codec.js';
import type { DataRecord } from '../data/schema.js';
import { NO_PROGRESS } from '../data/progress.js';
import { decodePng, formatPlanText, getEnv } from '../envs/index.js';
import type { Instance } from '../envs/types.js';
import { ensureDataset } from '../experiment/dataset-stage.js';
import { loadConfig } from '../experiment/load.js';
import { type GradingOptions, gradeResponse, toScoreLine } from './grade.js';
import { deserializeRollouts, serializeRollouts } from './serialize.js';
import type { RolloutBatch } from './types.js';
import { buildViewBatch, ImageSource, imagesFor, stackImages, type ViewOptions, viewOf } from './views.js';

const VIEW: ViewOptions = { profile: 'compact', renderStyle: 'compact', imageSizePx: 40 };
const GRADING: GradingOptions = { profile: 'compact', parser: { block: 'last', requireTag: false, unknownTokens: 'fail' }, rules: { outOfBounds: 'fail' } };

let work: string;
let dataDir: string;
let records: DataRecord[];
let all: DataRecord[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'mgsd-rollout-'));
  const overrides = [
    'tasks.frozenlake.levels=[3]',
    'tasks.maze.levels=[3]',
    'tasks.minibehaviour.levels=[5]',
    ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 4, val: 1, test: 1}`),
    `data.cacheDir=${work}`,
  ];
  const loaded = loadConfig('tiny', overrides);
  // The preset's folder: its relative benchmark paths (data exclusions) resolve from there.
  const { dataset } = ensureDataset(loaded.config, dirname(loaded.source), NO_PROGRESS);
  dataDir = dataset.dir;
  all = dataset.records;
  // One record of each task, in task order.
  records = ['frozenlake', 'maze', 'minibehaviour'].map((task) => dataset.records.find((r) => r.task === task && r.split === 'train')!);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The task's target response (state read-out + answer) for `plan`, by default the reference plan. */
function targetOf(record: DataRecord, plan = record.solution.plan): string {
  return getEnv(record.task).prompts.targetResponse(record.instance as Instance as never, 'compact', plan);
}

describe('views', () => {
  it('student views carry each record’s own image, pixel for pixel the PNG the dataset wrote', () => {
    const batch = buildViewBatch(records, 'student', VIEW, new ImageSource(VIEW));
    expect(batch.images!.shape).toEqual([3, 40, 40, 3]);
    records.forEach((record, row) => {
      const png = decodePng(readFileSync(join(dataDir, record.image)));
      expect(Buffer.from(batch.images!.data.subarray(row * 4800, (row + 1) * 4800)).equals(Buffer.from(png.rgb)), record.id).toBe(true);
    });
  });

  it('text and teacher views carry no image, and only the teacher view shows the reference plan', () => {
    for (const kind of ['text', 'teacher', 'teacher-no-plan'] as const) {
      expect(buildViewBatch(records, kind, VIEW, new ImageSource(VIEW)).images, kind).toBeUndefined();
    }
    for (const record of records) {
      const plan = `R:${formatPlanText(record.solution.plan, record.task, 'compact')}`;
      const text = (kind: 'teacher' | 'teacher-no-plan'): string =>
        viewOf(record, kind, 'compact')
          .flatMap((message) => message.content.map((part) => (part.type === 'text' ? part.text : '')))
          .join('');
      expect(text('teacher'), record.id).toContain(plan);
      expect(text('teacher-no-plan'), record.id).not.toContain(plan);
    }
  });

  it('refuses a batch that mixes image and text-only views, and images of the wrong size', () => {
    const images = new ImageSource(VIEW);
    const views = [viewOf(records[0]!, 'student', 'compact'), viewOf(records[1]!, 'text', 'compact')];
    expect(() => imagesFor(records.slice(0, 2), views, images, 40)).toThrow('a batch mixes image and text-only views (1 of 2 with an image)');
    expect(() => stackImages([images.raster(records[0]!)], 32)).toThrow(/image 0 is 40x40, expected 32x32/);
  });
});

describe('grading', () => {
  it('grades the target response of every task as an optimal success', () => {
    for (const record of records) {
      const graded = gradeResponse(record, targetOf(record), GRADING);
      expect(graded, record.id).toMatchObject({ parsed: true, success: true, optimalSuccess: true, failure: null, failureStep: null });
      expect(graded.actions).toEqual(record.solution.plan);
      expect(graded.steps).toBe(record.solution.optimalLength);
    }
  });

  it('grades an unreadable response as no_answer at step 0 without simulating it', () => {
    const graded = gradeResponse(records[0]!, '\u0007garbage ###', GRADING);
    expect(graded).toMatchObject({ parsed: false, success: false, failure: 'no_answer', failureStep: 0, steps: 0, progressRate: 0 });
  });

  it('grades a truncated plan as goal_not_reached after its last action, and writes snake_case score lines', () => {
    // Maze: every prefix of the optimal plan is legal.
    const record = all.find((r) => r.task === 'maze' && r.solution.plan.length >= 2)!;
    const plan = record.solution.plan.slice(0, -1);
    expect(plan.length).toBeGreaterThan(0);
    const graded = gradeResponse(record, targetOf(record, plan), GRADING);
    expect(graded).toMatchObject({ parsed: true, success: false, failure: 'goal_not_reached', steps: plan.length });
    expect(Object.keys(toScoreLine(graded))).toEqual([
      'id', 'task', 'level', 'split', 'bucket', 'parsed', 'success', 'optimal_success', 'failure', 'failure_step', 'steps',
      'optimal_length', 'progress_rate', 'actions', 'invalid_tokens',
    ]);
    expect(toScoreLine(graded)).toMatchObject({ id: record.id, optimal_length: record.solution.optimalLength, actions: plan });
  });
});

describe('serialize', () => {
  function handMadeBatch(): RolloutBatch {
    const images = new ImageSource(VIEW);
    const { views, images: pixels } = buildViewBatch(records, 'student', VIEW, images);
    const texts = records.map((record) => targetOf(record));
    const width = 3;
    return {
      records,
      views,
      images: pixels!,
      texts,
      // Ids past 2^53 and negative log-probs must survive the JSON round trip.
      responseIds: tensor('int64', [3, width], BigInt64Array.from([1n, 2n, 0n, 4n, 5n, 6n, 7n, 0n, 0n])),
      responseMask: tensor('bool', [3, width], Uint8Array.from([1, 1, 0, 1, 1, 1, 1, 0, 0])),
      logprobs: tensor('float32', [3, width], Float32Array.from([-0.5, -1.25, 0, -2, -0.125, -3.5, -0.75, 0, 0])),
      tokenCharEnd: tensor('int32', [3, width], Int32Array.from([1, 2, 0, 1, 2, 3, 1, 0, 0])),
      grades: records.map((record, i) => gradeResponse(record, texts[i]!, GRADING)),
      seed: 1234,
    };
  }

  it('round-trips a batch through JSON: tensors, texts, views, images and grades come back equal', () => {
    const batch = handMadeBatch();
    const saved = JSON.parse(JSON.stringify(serializeRollouts(batch))) as ReturnType<typeof serializeRollouts>;
    expect(saved.ids).toEqual(records.map((r) => r.id));
    const byId = new Map(records.map((r) => [r.id, r]));
    const back = deserializeRollouts(saved, (id) => byId.get(id)!, 'student', { viewOptions: VIEW, images: new ImageSource(VIEW), grading: GRADING });
    expect(back).toEqual(batch);
  });

  it('fails on an id the lookup does not know instead of dropping the row', () => {
    const saved = serializeRollouts(handMadeBatch());
    const lookup = (id: string): DataRecord => {
      throw new Error(`unknown sample ${id}`);
    };
    expect(() => deserializeRollouts(saved, lookup, 'student', { viewOptions: VIEW, images: new ImageSource(VIEW), grading: GRADING })).toThrow(
      `unknown sample ${records[0]!.id}`,
    );
  });
});

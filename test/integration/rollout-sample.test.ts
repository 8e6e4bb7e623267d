/**
 * `rollout/sample.ts` against a real tiny worker: one response per record, tensors shaped
 * `[B, R]`, each graded by the one parser and simulator (garbage output is a parse failure, never a
 * crash), seeded sampling, and an exact JSON round trip of a real batch (what a checkpoint stores).
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BackendClient } from '../../src/backend/client.js';
import type { DataRecord } from '../../src/data/schema.js';
import { gradingOf, viewOptionsOf } from '../../src/experiment/run-options.js';
import { loadRequest } from '../../src/experiment/models.js';
import { gradeResponse } from '../../src/rollout/grade.js';
import { type SampleContext, sampleRollouts } from '../../src/rollout/sample.js';
import { deserializeRollouts, serializeRollouts } from '../../src/rollout/serialize.js';
import { ImageSource } from '../../src/rollout/views.js';
import { miniConfigAndDataset, scratch, startWorkers } from '../helpers/tiny-setup.js';

describe('sampleRollouts on a real tiny worker', () => {
  const work = scratch('sample');
  let client: BackendClient;
  let context: SampleContext;
  let records: DataRecord[];
  let byId: Map<string, DataRecord>;

  beforeAll(async () => {
    const { config, data } = miniConfigAndDataset(work);
    records = data.dataset.records.filter((record) => record.split === 'train').slice(0, 5);
    byId = data.dataset.byId;
    client = await startWorkers(['main'], join(work, 'logs'));
    await client.worker('main').load(loadRequest(config, 'student', null, { weightDecay: 0 }));
    const viewOptions = viewOptionsOf(config);
    context = { worker: client.worker('main'), role: 'student', view: 'student', viewOptions, images: new ImageSource(viewOptions), grading: gradingOf(config) };
  });
  afterAll(async () => {
    await client?.close();
  });

  const sampling = { maxNewTokens: 16, temperature: 1, topP: 1, seed: 3 };

  it('returns one graded response per record with [B, R] tensors and the batch seed', async () => {
    const batch = await sampleRollouts(records, sampling, context);
    const rows = records.length;
    expect(batch.records).toBe(records);
    expect(batch.texts).toHaveLength(rows);
    expect(batch.images!.shape).toEqual([rows, 40, 40, 3]);
    for (const t of [batch.responseIds, batch.responseMask, batch.logprobs, batch.tokenCharEnd]) expect(t.shape[0]).toBe(rows);
    expect(batch.responseIds.shape[1]).toBeLessThanOrEqual(16);
    expect(batch.seed).toBe(3);
    // The grade of each row is the grade of its own text.
    records.forEach((record, i) => expect(batch.grades[i]).toEqual(gradeResponse(record, batch.texts[i]!, context.grading)));
  });

  it('is seeded: the same seed gives the same responses, another seed other ones', async () => {
    const first = await sampleRollouts(records, sampling, context);
    const again = await sampleRollouts(records, sampling, context);
    const other = await sampleRollouts(records, { ...sampling, seed: 4 }, context);
    expect(again.texts).toEqual(first.texts);
    expect(Array.from(again.responseIds.data)).toEqual(Array.from(first.responseIds.data));
    expect(other.texts).not.toEqual(first.texts);
  });

  it('a real batch survives the JSON round trip a checkpoint makes, bit for bit', async () => {
    const batch = await sampleRollouts(records, sampling, context);
    const saved = JSON.parse(JSON.stringify(serializeRollouts(batch))) as ReturnType<typeof serializeRollouts>;
    const back = deserializeRollouts(saved, (id) => byId.get(id)!, 'student', context);
    expect(back).toEqual(batch);
  });
});

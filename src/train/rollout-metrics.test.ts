/**
 * What a rollout step logs, on a hand-made batch whose expected numbers are computed by hand: the
 * log-ratio split by response segment (padding excluded), grade rates, response lengths, the worker
 * metrics passed through, and the ledger rows.
 */
import { describe, expect, it } from 'vitest';

import { tensor } from '../backend/codec.js';
import type { DataRecord } from '../data/schema.js';
import type { GradedResponse } from '../rollout/grade.js';
import type { RolloutBatch } from '../rollout/types.js';
import { rolloutLedgerRows, rolloutMetrics } from './rollout-metrics.js';
import { maskedRows, meanBySegment } from './segments.js';

// Compact frozenlake response: read-out "N3 S10 G22 H-" (chars 0–12), then the answer "@DRR" (13–16).
const TEXT = 'N3 S10 G22 H-@DRR';
const WIDTH = TEXT.length + 2;

function grade(id: string, success: boolean, parsed: boolean): GradedResponse {
  return {
    id, task: 'frozenlake', level: 3, split: 'train', bucket: 'easy', parsed, success, optimalSuccess: false,
    failure: success ? null : 'no_answer', failureStep: success ? null : 0, steps: 0, optimalLength: 3, progressRate: 0,
    actions: [], invalidTokens: [],
  };
}

/**
 * Row 0: one token per character of TEXT, then 2 pad columns. Row 1: the first 5 characters only.
 * Log-ratio: −1 on read-out tokens, −3 on answer tokens, 100 on padding (must never count).
 */
function batch(): { rollouts: RolloutBatch; logRatio: ReturnType<typeof tensor<'float32'>> } {
  const records = ['a', 'b'].map((id) => ({ id, task: 'frozenlake' }) as unknown as DataRecord);
  const mask = new Uint8Array(2 * WIDTH);
  const charEnd = new Int32Array(2 * WIDTH);
  const ids = new BigInt64Array(2 * WIDTH);
  const ratio = new Float32Array(2 * WIDTH).fill(100);
  const lengths = [TEXT.length, 5];
  lengths.forEach((length, row) => {
    for (let j = 0; j < length; j += 1) {
      mask[row * WIDTH + j] = 1;
      charEnd[row * WIDTH + j] = j + 1;
      ids[row * WIDTH + j] = BigInt(10 + j);
      ratio[row * WIDTH + j] = j < 13 ? -1 : -3;
    }
  });
  const rollouts: RolloutBatch = {
    records,
    views: [],
    texts: [TEXT, TEXT.slice(0, 5)],
    responseIds: tensor('int64', [2, WIDTH], ids),
    responseMask: tensor('bool', [2, WIDTH], mask),
    logprobs: tensor('float32', [2, WIDTH], new Float32Array(2 * WIDTH).fill(-0.5)),
    tokenCharEnd: tensor('int32', [2, WIDTH], charEnd),
    grades: [grade('a', true, true), grade('b', false, false)],
    seed: 42,
  };
  return { rollouts, logRatio: tensor('float32', [2, WIDTH], ratio) };
}

describe('segments', () => {
  it('averages the log-ratio over each segment’s tokens and never over padding', () => {
    const { rollouts, logRatio } = batch();
    // Read-out: 13 tokens of row 0 and 5 of row 1, all −1; answer: 4 tokens of row 0, all −3; no plan sentence.
    expect(meanBySegment(rollouts, logRatio, 'compact')).toEqual({ readout: -1, plan: null, answer: -3 });
  });

  it('lists the masked values of each row, rounded to 4 decimals', () => {
    const values = tensor('float32', [2, 3], Float32Array.from([0.123456, 2, 9, -1.00005, 7, 7]));
    const mask = tensor('bool', [2, 3], Uint8Array.from([1, 1, 0, 1, 0, 0]));
    expect(maskedRows(values, mask)).toEqual([[0.1235, 2], [-1]]);
  });
});

describe('rolloutMetrics and rolloutLedgerRows', () => {
  it('logs worker metrics that are present, grade rates, mean response length and the segment split', () => {
    const { rollouts, logRatio } = batch();
    const metrics = rolloutMetrics(rollouts, { loss: 0.5, kl: 0.25, grad_norm: 1.5, unrelated: 9 }, logRatio, 'compact');
    expect(metrics).toEqual({
      loss: 0.5,
      kl: 0.25,
      grad_norm: 1.5,
      reward_success: 0.5,
      reward_optimal: 0,
      parse_rate: 0.5,
      response_tokens_mean: (TEXT.length + 5) / 2,
      log_ratio_readout: -1,
      log_ratio_plan: null,
      log_ratio_answer: -3,
    });
    expect(rolloutMetrics(rollouts, {}, null, 'compact')).not.toHaveProperty('log_ratio_readout');
  });

  it('writes one ledger row per rollout with its policy step, seed, unpadded tokens and grade', () => {
    const { rollouts, logRatio } = batch();
    const rows = rolloutLedgerRows('opsd', 7, 5, rollouts, logRatio) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(2);
    expect(rows[1]).toEqual({
      stage: 'opsd', step: 7, policy_step: 5, sample_id: 'b', seed: 42, response_ids: [10, 11, 12, 13, 14], text: 'N3 S1',
      log_ratio: [-1, -1, -1, -1, -1], success: false, optimal_success: false, failure: 'no_answer',
    });
    expect((rows[0]!.response_ids as number[]).length).toBe(TEXT.length);
    expect(rolloutLedgerRows('grpo', 1, 0, rollouts, null).every((row) => (row as { log_ratio: unknown }).log_ratio === null)).toBe(true);
  });
});

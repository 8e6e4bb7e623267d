/**
 * Splitting per-token values by response segment (state read-out / plan sentence / answer), so the
 * logs show WHERE the teacher and the student disagree (DESIGN.md §6).
 */
import type { Tensor } from '../backend/codec.js';
import { getEnv } from '../envs/index.js';
import type { PromptProfile } from '../envs/types.js';
import type { RolloutBatch } from '../rollout/types.js';

export const SEGMENTS = ['readout', 'plan', 'answer'] as const;
export type SegmentName = (typeof SEGMENTS)[number];

/** Mean of `values` (float32 `[B, R]`) over the tokens of each segment; null for an empty segment. */
export function meanBySegment(rollouts: RolloutBatch, values: Tensor<'float32'>, profile: PromptProfile): Record<SegmentName, number | null> {
  const width = rollouts.responseIds.shape[1] ?? 0;
  const sums = { readout: 0, plan: 0, answer: 0 };
  const counts = { readout: 0, plan: 0, answer: 0 };
  rollouts.records.forEach((record, row) => {
    const text = rollouts.texts[row] ?? '';
    const ranges = getEnv(record.task).prompts.segments(text, profile);
    for (let j = 0; j < width; j += 1) {
      const at = row * width + j;
      if (!rollouts.responseMask.data[at]) continue;
      const char = Math.max(0, (rollouts.tokenCharEnd.data[at] ?? 1) - 1);
      const segment = SEGMENTS.find((name) => char >= ranges[name][0] && char < ranges[name][1]);
      if (segment === undefined) continue;
      sums[segment] += values.data[at] ?? 0;
      counts[segment] += 1;
    }
  });
  return {
    readout: counts.readout ? sums.readout / counts.readout : null,
    plan: counts.plan ? sums.plan / counts.plan : null,
    answer: counts.answer ? sums.answer / counts.answer : null,
  };
}

/** Per-row lists of the masked values (for the rollout ledger), rounded to 4 decimals. */
export function maskedRows(values: Tensor<'float32'> | Tensor<'int64'>, mask: Tensor<'bool'>): number[][] {
  const [rows = 0, width = 0] = values.shape;
  const out: number[][] = [];
  for (let i = 0; i < rows; i += 1) {
    const row: number[] = [];
    for (let j = 0; j < width; j += 1) {
      if (!mask.data[i * width + j]) continue;
      const value = values.data[i * width + j]!;
      row.push(typeof value === 'bigint' ? Number(value) : Math.round(value * 1e4) / 1e4);
    }
    out.push(row);
  }
  return out;
}

/**
 * What a rollout step logs: the worker's loss metrics, the simulator's grades (reward is logged,
 * not trained on, in OPSD), response lengths, the log-ratio split by response segment, and the
 * per-rollout ledger rows (DESIGN.md §8).
 */
import type { Tensor } from '../backend/codec.js';
import type { PromptProfile } from '../envs/types.js';
import type { RolloutBatch } from '../rollout/types.js';
import { maskedRows, meanBySegment } from './segments.js';

type Numeric = number | null | undefined;

/** Metrics of one distillation (or policy-gradient) step. */
export function rolloutMetrics(
  rollouts: RolloutBatch,
  result: Record<string, unknown>,
  logRatio: Tensor<'float32'> | null,
  profile: PromptProfile,
): Record<string, number | null> {
  const n = rollouts.grades.length;
  const count = (predicate: (g: RolloutBatch['grades'][number]) => boolean): number => rollouts.grades.filter(predicate).length / n;
  const lengths = maskedRows(rollouts.logprobs, rollouts.responseMask).map((row) => row.length);
  const metrics: Record<string, number | null> = {};
  for (const key of ['loss', 'kl', 'log_ratio_mean', 'student_entropy', 'teacher_entropy', 'grad_norm', 'tokens', 'clip_fraction', 'update_rel_norm', 'update_changed_fraction']) {
    const value = result[key] as Numeric;
    if (value !== undefined) metrics[key] = value;
  }
  metrics.reward_success = count((g) => g.success);
  metrics.reward_optimal = count((g) => g.optimalSuccess);
  metrics.parse_rate = count((g) => g.parsed);
  metrics.response_tokens_mean = lengths.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (logRatio !== null) {
    const bySegment = meanBySegment(rollouts, logRatio, profile);
    metrics.log_ratio_readout = bySegment.readout;
    metrics.log_ratio_plan = bySegment.plan;
    metrics.log_ratio_answer = bySegment.answer;
  }
  return metrics;
}

/** One ledger row per rollout: who, when, from which policy, what it said, and how it fared. */
export function rolloutLedgerRows(
  stage: string,
  step: number,
  policyStep: number,
  rollouts: RolloutBatch,
  logRatio: Tensor<'float32'> | null,
): object[] {
  const ids = maskedRows(rollouts.responseIds, rollouts.responseMask);
  const ratios = logRatio === null ? null : maskedRows(logRatio, rollouts.responseMask);
  return rollouts.records.map((record, i) => {
    const grade = rollouts.grades[i]!;
    return {
      stage,
      step,
      policy_step: policyStep,
      sample_id: record.id,
      seed: rollouts.seed,
      response_ids: ids[i],
      text: rollouts.texts[i],
      log_ratio: ratios?.[i] ?? null,
      success: grade.success,
      optimal_success: grade.optimalSuccess,
      failure: grade.failure,
    };
  });
}

/**
 * The frozen teacher's side of a distillation step. The teacher either runs in its own worker
 * (scores the student's response tokens there; the results travel to the student's worker over the
 * wire, overlapping with the student's sampling) or inside the student's worker (`distill_step`
 * scores it in-process: the only option when a 151k-token vocabulary makes full distributions too
 * large for the wire, or when the teacher is the live student itself).
 */
import type { WorkerHandle } from '../backend/client.js';
import type { Tensor } from '../backend/codec.js';
import { type ArgsOf, type Estimator, SCORE_MODES, WIRE_TEACHER_TENSORS } from '../backend/protocol.js';
import type { ChatView } from '../chat.js';
import type { RolloutBatch } from '../rollout/types.js';

export type { Estimator };

/** Where the teacher runs. */
export type TeacherSource = { kind: 'worker'; worker: WorkerHandle; role: string } | { kind: 'in-process'; role: string };

/** What `distill_step` receives about the teacher. */
export interface TeacherPayload {
  teacher: ArgsOf<'distill_step'>['teacher'];
  tensors: {
    teacher_logprobs?: Tensor<'float32'>;
    teacher_topk_ids?: Tensor<'int64'>;
    teacher_topk_logprobs?: Tensor<'float32'>;
    teacher_full_logprobs?: Tensor<'float32'>;
  };
  /** Mean teacher entropy over response tokens (wire teachers; in-process ones report their own). */
  entropyMean: number | null;
}

/** The `score` mode that yields what each estimator's wire teacher must send. */
const SCORE_MODE = { sampled: 'token', topk: 'topk', full: 'full', forward: 'full' } as const satisfies Record<Estimator, (typeof SCORE_MODES)[number]>;

/** Scores `rollouts` under the teacher's views (or prepares the in-process request). */
export async function teacherPayload(
  source: TeacherSource,
  rollouts: RolloutBatch,
  views: ChatView[],
  estimator: Estimator,
  k: number,
  temperature: number,
): Promise<TeacherPayload> {
  if (source.kind === 'in-process') {
    return { teacher: { source: 'role', role: source.role, views }, tensors: {}, entropyMean: null };
  }
  const reply = await source.worker.score(
    { role: source.role, views, temperature, mode: SCORE_MODE[estimator], k: estimator === 'topk' ? k : null },
    { response_ids: rollouts.responseIds, response_mask: rollouts.responseMask },
  );
  const { logprobs, entropy, topk_ids: topkIds, topk_logprobs: topkLogprobs, full_logprobs: fullLogprobs } = reply.tensors;
  const scored: TeacherPayload['tensors'] = {
    teacher_logprobs: logprobs,
    teacher_topk_ids: topkIds,
    teacher_topk_logprobs: topkLogprobs,
    teacher_full_logprobs: fullLogprobs,
  };
  // Token log-probs always travel (for metrics); the rest only as the contract's estimator needs.
  const tensors: TeacherPayload['tensors'] = { teacher_logprobs: logprobs };
  for (const name of WIRE_TEACHER_TENSORS[estimator]) Object.assign(tensors, { [name]: scored[name] });
  return { teacher: { source: 'wire' }, tensors, entropyMean: maskedMean(entropy, rollouts.responseMask) };
}

/** Mean of a float32 `[B, R]` tensor over the masked positions. */
export function maskedMean(values: Tensor<'float32'>, mask: Tensor<'bool'>): number | null {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.data.length; i += 1) {
    if (!mask.data[i]) continue;
    sum += values.data[i]!;
    count += 1;
  }
  return count > 0 ? sum / count : null;
}

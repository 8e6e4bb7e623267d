/**
 * Perception accuracy on a held-out split: per task, the share of samples whose every field was
 * read right (`all`), and each field's exact-match rate (sets compared as sets).
 *
 * Where the answer comes from follows what the cold start taught: with `readout`, the model answers
 * the planning prompt and its state read-out is graded; with `perception-qa`, it answers the
 * perception questions. Both prompts come from the task's `prompts.ts`.
 */
import type { DataRecord } from '../data/schema.js';
import { getEnv, gradeFields } from '../envs/index.js';
import type { EnvName, Instance, PromptProfile } from '../envs/types.js';
import { type EvalContext, evaluateRecords } from './benchmark.js';
import { type Rate, rateOf } from './metrics.js';

/** Perception metrics of one task. */
export interface TaskPerception {
  task: EnvName;
  n: number;
  all: Rate;
  fields: Record<string, Rate>;
}

/** Decodes and grades perception for `records`. */
export async function evaluatePerception(
  records: readonly DataRecord[],
  source: 'readout' | 'perception-qa',
  context: EvalContext,
): Promise<TaskPerception[]> {
  const { texts } = await evaluateRecords(records, source === 'readout' ? 'student' : 'perception', context);
  return gradePerception(records, texts, context.viewOptions.profile);
}

/** Grades perception answers (or planning responses, by their read-out) against the truth. */
export function gradePerception(records: readonly DataRecord[], texts: readonly string[], profile: PromptProfile): TaskPerception[] {
  const byTask = new Map<EnvName, { n: number; all: number; fields: Map<string, number> }>();
  records.forEach((record, i) => {
    const prompts = getEnv(record.task).prompts;
    const instance = record.instance as Instance as never;
    const grade = gradeFields(prompts.perception(instance, profile).fields, prompts.parsePerception(texts[i] ?? '', profile));
    const entry = byTask.get(record.task) ?? { n: 0, all: 0, fields: new Map<string, number>() };
    entry.n += 1;
    entry.all += grade.allExact ? 1 : 0;
    for (const [field, ok] of Object.entries(grade.fields)) entry.fields.set(field, (entry.fields.get(field) ?? 0) + (ok ? 1 : 0));
    byTask.set(record.task, entry);
  });
  return [...byTask.entries()].map(([task, entry]) => ({
    task,
    n: entry.n,
    all: rateOf(entry.all, entry.n),
    fields: Object.fromEntries([...entry.fields.entries()].map(([field, count]) => [field, rateOf(count, entry.n)])),
  }));
}

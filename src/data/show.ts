/**
 * `mgsd data show`: one record as text (its symbolic state, optimal length, number of optimal
 * plans, one optimal plan) and as a PNG, re-rendered in the dataset's style with, optionally, the
 * optimal plan's path drawn over it.
 *
 * The symbolic state is the teacher's context without a reference plan (`prompts.teacherView`),
 * so what is printed is exactly what the text-reading teacher sees.
 */
import { encodePng, getEnv } from '../envs/index.js';
import type { Instance, PromptProfile } from '../envs/types.js';
import type { Dataset } from './dataset.js';
import type { DataRecord } from './schema.js';

/** A record rendered for people. */
export interface RecordView {
  text: string;
  png: Uint8Array;
}

/** Describes `record` of `dataset`; `shouldDrawPlan` draws the optimal plan's path on the image. */
export function showRecord(dataset: Dataset, record: DataRecord, profile: PromptProfile, shouldDrawPlan: boolean): RecordView {
  const { spec } = getEnv(record.task);
  const instance = record.instance as Instance;
  const path = shouldDrawPlan ? spec.simulate(instance, record.solution.plan).trajectory : undefined;
  const { style, sizePx } = dataset.manifest.render;
  const raster = spec.render(instance, path === undefined ? { style, sizePx } : { style, sizePx, path });
  return { text: describeRecord(record, profile), png: encodePng(raster) };
}

/** The text part of `showRecord`. */
export function describeRecord(record: DataRecord, profile: PromptProfile): string {
  const { prompts } = getEnv(record.task);
  const instance = record.instance as Instance;
  const state = prompts
    .teacherView(instance, profile, null)
    .filter((message) => message.role === 'user')
    .flatMap((message) => message.content.map((part) => (part.type === 'text' ? part.text : '')))
    .join('')
    .trim();
  const source = record.source.kind === 'generated' ? `generated (seed ${record.seed}, candidate ${record.source.candidate})` : `${record.source.file} line ${record.source.line + 1} (${record.source.origin})`;
  return [
    `id: ${record.id}`,
    `task: ${record.task}  level: ${record.level}  split: ${record.split}  bucket: ${record.bucket}`,
    `source: ${source}`,
    `image: ${record.image}`,
    '',
    state,
    '',
    `optimal length: ${record.solution.optimalLength}`,
    `optimal plans: ${record.solution.numOptimalPlans}`,
    `one optimal plan: ${prompts.formatPlan(record.solution.plan, profile)}`,
  ].join('\n');
}

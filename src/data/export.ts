/**
 * `mgsd data export`: a dataset as supervised rows for other trainers.
 *
 * - `llamafactory`: sharegpt-style rows `{"messages": [{role, content}], "images": [path]}` with an
 *   `<image>` placeholder where the image part of the prompt is (LLaMA-Factory requires one
 *   placeholder per image), plus the matching entry in `dataset_info.json` beside the output file.
 * - `jsonl`: plain rows with the record's id, task, split, level, the prompt as mgsd chat messages,
 *   the target response and the image path.
 * Prompts and targets come only from `getEnv(task).prompts`; image paths are relative to the
 * output file's folder (LLaMA-Factory's default media folder is the dataset folder).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';

import type { ChatView } from '../chat.js';
import { DataError } from '../errors.js';
import { getEnv } from '../envs/index.js';
import type { Instance, PromptProfile } from '../envs/types.js';
import type { Dataset } from './dataset.js';
import { formatJsonl } from './jsonl.js';
import type { DataRecord, Split } from './schema.js';

/** LLaMA-Factory's image placeholder. */
export const IMAGE_PLACEHOLDER = '<image>';

/** What to export. */
export interface ExportInput {
  format: 'llamafactory' | 'jsonl';
  profile: PromptProfile;
  /** `plan`: the full planning response; `perception`: the perception QA answer. */
  target: 'plan' | 'perception';
  /** Which splits (null = all). */
  splits: readonly Split[] | null;
  /** Output file (JSON Lines). */
  out: string;
}

/** What was written. */
export interface ExportResult {
  rows: number;
  out: string;
  /** `dataset_info.json` path (llamafactory only). */
  datasetInfo: string | null;
}

/** A prompt and its target response for one record. */
export interface SupervisedPair {
  prompt: ChatView;
  response: string;
}

/** The prompt and target of `record` for `target`, straight from the task's prompts module. */
export function supervisedPair(record: DataRecord, profile: PromptProfile, target: ExportInput['target']): SupervisedPair {
  const { prompts } = getEnv(record.task);
  const instance = record.instance as Instance;
  if (target === 'perception') {
    const item = prompts.perception(instance, profile);
    return { prompt: item.view, response: item.answer };
  }
  return { prompt: prompts.studentView(instance, profile), response: prompts.targetResponse(instance, profile, record.solution.plan) };
}

/** One message's parts as LLaMA-Factory content: text as is, the image as `<image>`. */
export function flattenContent(message: ChatView[number]): string {
  return message.content.map((part) => (part.type === 'image' ? IMAGE_PLACEHOLDER : part.text)).join('');
}

/** Writes the export; returns what was written. */
export function exportDataset(dataset: Dataset, input: ExportInput): ExportResult {
  const out = resolve(input.out);
  const records = dataset.records.filter((record) => input.splits === null || input.splits.includes(record.split));
  if (records.length === 0) {
    throw new DataError('export_empty', `${dataset.dir}: no record in split(s) ${input.splits?.join(', ') ?? 'any'}`, {
      hint: `The dataset has: ${[...new Set(dataset.records.map((record) => record.split))].join(', ')}. Choose one with --split.`,
    });
  }
  const rows = records.map((record) => {
    const pair = supervisedPair(record, input.profile, input.target);
    const image = toPosix(relative(dirname(out), join(dataset.dir, record.image)));
    return input.format === 'llamafactory' ? llamaFactoryRow(pair, image) : plainRow(record, pair, image, input.target);
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, formatJsonl(rows));
  const datasetInfo = input.format === 'llamafactory' ? writeDatasetInfo(out) : null;
  return { rows: rows.length, out, datasetInfo };
}

function llamaFactoryRow(pair: SupervisedPair, image: string): Record<string, unknown> {
  const messages = pair.prompt.map((message) => ({ role: message.role, content: flattenContent(message) }));
  messages.push({ role: 'assistant', content: pair.response });
  const placeholders = messages.reduce((count, message) => count + message.content.split(IMAGE_PLACEHOLDER).length - 1, 0);
  return placeholders > 0 ? { messages, images: [image] } : { messages };
}

function plainRow(record: DataRecord, pair: SupervisedPair, image: string, target: ExportInput['target']): Record<string, unknown> {
  return { id: record.id, task: record.task, split: record.split, level: record.level, target, prompt: pair.prompt, response: pair.response, image };
}

/** Adds (or replaces) this export's entry in `dataset_info.json` next to `out`; other entries are kept. */
function writeDatasetInfo(out: string): string {
  const path = join(dirname(out), 'dataset_info.json');
  let info: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      info = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new DataError('dataset_info_invalid', `${path}: not valid JSON, so the export's entry cannot be added`, {
        cause: error,
        hint: 'Fix or delete that file, then export again.',
      });
    }
  }
  info[basename(out, extname(out))] = {
    file_name: basename(out),
    formatting: 'sharegpt',
    columns: { messages: 'messages', images: 'images' },
    tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
  };
  writeFileSync(path, `${JSON.stringify(info, null, 2)}\n`);
  return path;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

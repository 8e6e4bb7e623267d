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
 * Both files are written atomically: a full disk leaves the previous `dataset_info.json` intact.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';

import type { ChatView } from '../chat.js';
import { DataError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../fs-atomic.js';
import { getEnv } from '../envs/index.js';
import type { Instance, PromptProfile } from '../envs/types.js';
import type { Dataset } from './dataset.js';
import { formatJsonl, readTextFile } from './jsonl.js';
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
  if (input.format === 'llamafactory' && basename(out) === DATASET_INFO_FILE) {
    throw new DataError('export_out_is_info', `--out ${out}: LLaMA-Factory keeps its registry in ${DATASET_INFO_FILE} beside the rows, so the rows cannot have that name`, {
      hint: 'Name the rows file after the dataset, e.g. --out data/mgsd-frozenlake.jsonl.',
    });
  }
  // The registry is read (and checked) before anything is written, so a bad one changes nothing.
  const info = input.format === 'llamafactory' ? readDatasetInfo(out) : null;
  writeFileAtomic(out, formatJsonl(rows), { label: '--out' });
  const datasetInfo = info === null ? null : writeDatasetInfo(out, info);
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

/** LLaMA-Factory's registry of datasets, kept beside the exported rows. */
const DATASET_INFO_FILE = 'dataset_info.json';

/** The existing `dataset_info.json` next to `out` (empty when there is none); other entries are kept. */
function readDatasetInfo(out: string): { path: string; entries: Record<string, unknown> } {
  const path = join(dirname(out), DATASET_INFO_FILE);
  if (!existsSync(path)) return { path, entries: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readTextFile(path, 'LLaMA-Factory dataset registry'));
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError('dataset_info_invalid', `${path}: not valid JSON (${(error as Error).message}), so the export's entry cannot be added`, {
      cause: error,
      hint: 'Fix or delete that file, then export again; nothing was written.',
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DataError('dataset_info_invalid', `${path}: expected a JSON object of dataset entries`, {
      hint: 'Fix or delete that file, then export again; nothing was written.',
    });
  }
  return { path, entries: parsed as Record<string, unknown> };
}

/** Adds (or replaces) this export's entry in `dataset_info.json`, atomically. */
function writeDatasetInfo(out: string, info: { path: string; entries: Record<string, unknown> }): string {
  const entries = { ...info.entries };
  entries[basename(out, extname(out))] = {
    file_name: basename(out),
    formatting: 'sharegpt',
    columns: { messages: 'messages', images: 'images' },
    tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
  };
  writeJsonAtomic(info.path, entries);
  return info.path;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

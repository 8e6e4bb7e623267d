/**
 * `mgsd score`: grade a file of responses produced anywhere (an API model, another trainer)
 * against one or more datasets (FrozenLake and MiniBehaviour come as separate published files).
 * Input lines are `{"id": "...", "response": "..."}` (other keys are ignored).
 *
 * Every problem names `file:line`: bad JSON, a line without a string `id` and `response`, an id no
 * dataset has (or two datasets share), an id of another split, an id seen twice. Records of the
 * scored split without a response are *missing*: by default they count as failures (graded as an
 * empty response: `no_answer`), so failed API calls cannot inflate a score; with `skip` they are
 * left out of the denominator. Either way the result says how many there were.
 */
import { z } from 'zod';

import type { Dataset } from '../data/dataset.js';
import { parseJsonLine, readTextFile, splitJsonlLines, validateLine } from '../data/jsonl.js';
import type { DataRecord, Split } from '../data/schema.js';
import { DataError } from '../errors.js';
import { type GradedResponse, gradeResponse, type GradingOptions } from '../rollout/grade.js';

const ResponseLineSchema = z.looseObject({ id: z.string().min(1), response: z.string() });

/** One line of a responses file. */
export interface ResponseLine {
  lineNumber: number;
  id: string;
  response: string;
}

/** How records without a response count: as failures (default) or not at all. */
export type MissingPolicy = 'fail' | 'skip';

/** The graded responses (file order, then the missing records when they count as failures). */
export interface ScoredResponses {
  graded: GradedResponse[];
  /** Graded from a response (the rest of `graded`, if any, are missing records). */
  answered: number;
  /** Records of the split without a response. */
  missing: number;
  missingPolicy: MissingPolicy;
}

/** Every record of `datasets` by id; an id in two datasets is an error (a response could not be placed). */
export function indexRecords(datasets: readonly Dataset[]): Map<string, DataRecord> {
  const byId = new Map<string, DataRecord>();
  const owner = new Map<string, string>();
  for (const dataset of datasets) {
    for (const record of dataset.records) {
      const earlier = owner.get(record.id);
      if (earlier !== undefined) {
        throw new DataError('ambiguous_id', `id "${record.id}" is in both ${earlier} and ${dataset.dir}`, {
          hint: 'Score each dataset on its own (its responses in a separate file).',
        });
      }
      owner.set(record.id, dataset.dir);
      byId.set(record.id, record);
    }
  }
  return byId;
}

/** Reads a responses file; unknown and duplicate ids, and ids of another split, are errors naming the line. */
export function readResponses(path: string, byId: ReadonlyMap<string, DataRecord>, split: Split, where: string): ResponseLine[] {
  const firstLine = new Map<string, number>();
  const lines: ResponseLine[] = [];
  for (const line of splitJsonlLines(readTextFile(path, 'responses file'))) {
    const value = validateLine(path, line.lineNumber, parseJsonLine(path, line), ResponseLineSchema);
    const context = { file: path, line: line.lineNumber };
    const record = byId.get(value.id);
    if (record === undefined) {
      throw new DataError('unknown_id', `${path}:${line.lineNumber}: id "${value.id}" is not in the dataset ${where}`, {
        hint: 'Score against the dataset the responses were produced for; ids are the `id` of its records.',
        context,
      });
    }
    if (record.split !== split) {
      throw new DataError('other_split', `${path}:${line.lineNumber}: id "${value.id}" is in the ${record.split} split, not ${split}`, {
        hint: `Pass --split ${record.split} to score that split.`,
        context,
      });
    }
    const earlier = firstLine.get(value.id);
    if (earlier !== undefined) {
      throw new DataError('duplicate_id', `${path}:${line.lineNumber}: id "${value.id}" was already answered at line ${earlier}`, {
        hint: 'Keep one response per id.',
        context,
      });
    }
    firstLine.set(value.id, line.lineNumber);
    lines.push({ lineNumber: line.lineNumber, id: value.id, response: value.response });
  }
  if (lines.length === 0) {
    throw new DataError('responses_empty', `${path}: no responses`, { hint: 'Each line must be {"id": ..., "response": ...}.' });
  }
  return lines;
}

/** Grades every response of `path` against the `split` of `datasets`, counting missing records per `missing`. */
export function scoreResponses(
  datasets: readonly Dataset[],
  path: string,
  options: GradingOptions,
  scope: { split: Split; missing: MissingPolicy } = { split: 'test', missing: 'fail' },
): ScoredResponses {
  const byId = indexRecords(datasets);
  const lines = readResponses(path, byId, scope.split, datasets.map((dataset) => dataset.dir).join(', '));
  const graded = lines.map((line) => gradeResponse(byId.get(line.id)!, line.response, options));
  const answeredIds = new Set(lines.map((line) => line.id));
  const missing = [...byId.values()].filter((record) => record.split === scope.split && !answeredIds.has(record.id));
  if (scope.missing === 'fail') graded.push(...missing.map((record) => gradeResponse(record, '', options)));
  return { graded, answered: lines.length, missing: missing.length, missingPolicy: scope.missing };
}

/**
 * `mgsd score`: grade a file of responses produced anywhere (an API model, another trainer)
 * against a dataset. Input lines are `{"id": "...", "response": "..."}` (other keys are ignored).
 *
 * Every problem names `file:line`: bad JSON, a line without a string `id` and `response`, an id the
 * dataset does not have, an id seen twice. Ids of the dataset without a response are not graded;
 * the result says how many there were.
 */
import { z } from 'zod';

import type { Dataset } from '../data/dataset.js';
import { parseJsonLine, readTextFile, splitJsonlLines, validateLine } from '../data/jsonl.js';
import { DataError } from '../errors.js';
import { type GradedResponse, gradeResponse, type GradingOptions } from '../rollout/grade.js';

const ResponseLineSchema = z.looseObject({ id: z.string().min(1), response: z.string() });

/** One line of a responses file. */
export interface ResponseLine {
  lineNumber: number;
  id: string;
  response: string;
}

/** The graded responses, in file order, and how many dataset records had none. */
export interface ScoredResponses {
  graded: GradedResponse[];
  unanswered: number;
}

/** Reads a responses file; unknown and duplicate ids are errors naming the line. */
export function readResponses(path: string, dataset: Dataset): ResponseLine[] {
  const firstLine = new Map<string, number>();
  const lines: ResponseLine[] = [];
  for (const line of splitJsonlLines(readTextFile(path, 'responses file'))) {
    const value = validateLine(path, line.lineNumber, parseJsonLine(path, line), ResponseLineSchema);
    if (!dataset.byId.has(value.id)) {
      throw new DataError('unknown_id', `${path}:${line.lineNumber}: id "${value.id}" is not in the dataset ${dataset.dir}`, {
        hint: 'Score against the dataset the responses were produced for; ids are the `id` of its records.',
        context: { file: path, line: line.lineNumber },
      });
    }
    const earlier = firstLine.get(value.id);
    if (earlier !== undefined) {
      throw new DataError('duplicate_id', `${path}:${line.lineNumber}: id "${value.id}" was already answered at line ${earlier}`, {
        hint: 'Keep one response per id.',
        context: { file: path, line: line.lineNumber },
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

/** Grades every response of `path` against `dataset`. */
export function scoreResponses(dataset: Dataset, path: string, options: GradingOptions): ScoredResponses {
  const lines = readResponses(path, dataset);
  const graded = lines.map((line) => gradeResponse(dataset.byId.get(line.id)!, line.response, options));
  return { graded, unanswered: dataset.records.length - graded.length };
}

/**
 * Reading runs for `mgsd compare`: a run folder (it has `results.json`), or a folder of runs (a
 * sweep: every subfolder with `results.json`). For each run: its resolved config, its results and
 * the per-puzzle outcomes of every evaluated (model, input) from `eval/<model>-<input>.jsonl` (and on
 * an out-of-distribution set, `eval/<model>-ood-<set>-<input>.jsonl`).
 * Unfinished runs (no `results.json`) are listed as skipped, never silently dropped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { DataError } from '../errors.js';
import type { ResultsFile } from '../eval/results.js';
import { oodPartPrefix } from '../names.js';

/** One puzzle's outcome in an evaluation file. */
export interface PuzzleOutcome {
  id: string;
  task: string;
  success: boolean;
}

/** A finished run, as the comparison needs it. */
export interface ComparedRun {
  dir: string;
  config: Record<string, unknown>;
  seed: number;
  dataSeed: number;
  results: ResultsFile;
  /** `<model>/<input>` → outcomes by puzzle id on the test split, or on out-of-distribution `set` (read on demand). */
  outcomes(modelInput: string, set?: string): Map<string, PuzzleOutcome>;
}

/** What was found under the given paths. */
export interface FoundRuns {
  runs: ComparedRun[];
  /** Run folders without results.json (unfinished). */
  skipped: string[];
  /** Grid keys named by sweep plans (`sweep.json`) among the paths. */
  gridKeys: string[];
}

/** Reads a JSON file, naming the file when it is not valid JSON. */
export function readJsonFile<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new DataError('bad_json', `${path}: not a readable JSON file`, { cause: error, hint: 'Rerun the command that wrote it.' });
  }
}

/** Finds the runs under `paths` (run folders or folders of runs). */
export function findRuns(paths: readonly string[]): FoundRuns {
  const found: FoundRuns = { runs: [], skipped: [], gridKeys: [] };
  for (const given of paths) {
    const path = resolve(given);
    if (!existsSync(path) || !statSync(path).isDirectory()) {
      throw new DataError('not_a_folder', `${given}: not a folder`, { hint: 'Pass run folders (`mgsd run --out`) or sweep folders (`mgsd sweep --out`).' });
    }
    if (existsSync(join(path, 'config.resolved.json'))) {
      addRun(found, path);
      continue;
    }
    if (existsSync(join(path, 'sweep.json'))) {
      for (const axis of readJsonFile<{ grid: Array<{ key: string }> }>(join(path, 'sweep.json')).grid) {
        if (!found.gridKeys.includes(axis.key)) found.gridKeys.push(axis.key);
      }
    }
    const children = readdirSync(path)
      .sort()
      .map((name) => join(path, name))
      .filter((child) => existsSync(join(child, 'config.resolved.json')));
    if (children.length === 0) {
      throw new DataError('no_runs', `${given}: neither a run folder nor a folder of runs (no config.resolved.json in it or its subfolders)`, {
        hint: 'Pass the --out folder of `mgsd run` or `mgsd sweep`.',
      });
    }
    for (const child of children) addRun(found, child);
  }
  return found;
}

function addRun(found: FoundRuns, dir: string): void {
  if (!existsSync(join(dir, 'results.json'))) {
    found.skipped.push(dir);
    return;
  }
  const { _source: _, ...config } = readJsonFile<Record<string, unknown>>(join(dir, 'config.resolved.json'));
  const data = (config.data ?? {}) as { seed?: number };
  const cache = new Map<string, Map<string, PuzzleOutcome>>();
  found.runs.push({
    dir,
    config,
    seed: Number(config.seed),
    // Runs from before `data.seed` existed generated their puzzles from `seed`.
    dataSeed: data.seed ?? Number(config.seed),
    results: readJsonFile<ResultsFile>(join(dir, 'results.json')),
    outcomes(modelInput, set) {
      const key = set === undefined ? modelInput : `${modelInput}@${set}`;
      const cached = cache.get(key);
      if (cached) return cached;
      const [model, input] = modelInput.split('/');
      const outcomes = readOutcomes(join(dir, 'eval', `${model}-${set === undefined ? '' : oodPartPrefix(set)}${input}.jsonl`));
      cache.set(key, outcomes);
      return outcomes;
    },
  });
}

function readOutcomes(path: string): Map<string, PuzzleOutcome> {
  if (!existsSync(path)) {
    throw new DataError('no_eval_file', `${path} is missing: the per-puzzle outcomes of this evaluation are needed for the paired tests`, {
      hint: 'Finish the run (`mgsd run --resume <run>`); evaluations write eval/<model>-<input>.jsonl.',
    });
  }
  const out = new Map<string, PuzzleOutcome>();
  for (const [index, line] of readFileSync(path, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    let row: { id?: unknown; task?: unknown; success?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch (error) {
      throw new DataError('bad_eval_line', `${path}:${index + 1}: not valid JSON`, { cause: error });
    }
    if (typeof row.id !== 'string' || typeof row.task !== 'string' || typeof row.success !== 'boolean') {
      throw new DataError('bad_eval_line', `${path}:${index + 1}: expected "id", "task" (strings) and "success" (boolean)`);
    }
    out.set(row.id, { id: row.id, task: row.task, success: row.success });
  }
  return out;
}

/**
 * Reading the published test sets (benchmarks/README.md) into mgsd instances.
 *
 * Each line is converted to our instance, checked with `spec.validate`, solved, and — where the
 * file publishes `optimal_length` — checked against our solver. A line that fails any step becomes
 * an issue `file:line: reason` (1-based line numbers); callers decide whether issues are fatal.
 * Record ids use the 0-based line number: `<file name without extension>/<line - 1>`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

import { DataError } from '../errors.js';
import { getEnv } from '../envs/index.js';
import type { Instance, MiniBehaviourInstance, Pos, Solution } from '../envs/types.js';
import { type JsonlLine, readTextFile, splitJsonlLines } from './jsonl.js';
import type { BenchmarkKind } from './schema.js';

/** The package root: published test sets ship in `<root>/benchmarks/`. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One valid line of a published file, converted and solved. */
export interface BenchmarkEntry {
  /** 1-based line number in the file. */
  lineNumber: number;
  /** `<file name without extension>/<0-based line>`. */
  id: string;
  instance: Instance;
  solution: Solution;
  origin: string;
  index: number | null;
  publishedOptimalLength: number | null;
}

/** A line that could not be imported. */
export interface BenchmarkIssue {
  lineNumber: number;
  reason: string;
}

/** A published file, read. */
export interface BenchmarkFile {
  kind: BenchmarkKind;
  path: string;
  /** The file name without extension: the prefix of every record id. */
  name: string;
  sha256: string;
  entries: BenchmarkEntry[];
  issues: BenchmarkIssue[];
}

/**
 * Finds a benchmark file: an absolute path, else relative to `baseDir` (the folder of the config
 * that lists it; presets write `../benchmarks/…`), else to the current directory, else to the
 * package root — the first that exists.
 */
export function resolveBenchmarkFile(file: string, baseDir: string | null = null): string {
  const relativeTo = [...(baseDir === null ? [] : [baseDir]), process.cwd(), PACKAGE_ROOT];
  const candidates = isAbsolute(file) ? [file] : [...new Set(relativeTo.map((dir) => resolve(dir, file)))];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) {
    throw new DataError('benchmark_not_found', `benchmark file "${file}" not found (looked for ${candidates.join(', ')})`, {
      hint: `Use a path to one of the files in ${resolve(PACKAGE_ROOT, 'benchmarks')} (see its README.md).`,
    });
  }
  return found;
}

const cellPair = z.tuple([z.number().int().min(0), z.number().int().min(0)]);
const common = { level: z.number().int().min(2), source: z.string().optional(), index: z.number().int().min(0).optional() };
const optimalLength = z.number().int().positive();

const RAW_SCHEMAS = {
  'vsp-frozenlake': z.looseObject({ ...common, rows: z.array(z.string()) }),
  'vprl-frozenlake': z.looseObject({ ...common, rows: z.array(z.string()), optimal_length: optimalLength }),
  'vprl-minibehaviour': z.looseObject({
    ...common,
    start: cellPair,
    start_dir: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
    printer: cellPair,
    table: z.array(cellPair),
    optimal_length: optimalLength,
  }),
} as const;

/** Reads a published file of `kind`; bad lines become issues, never exceptions. */
export function readBenchmark(kind: BenchmarkKind, path: string): BenchmarkFile {
  const text = readTextFile(path, `${kind} benchmark file`);
  const name = benchmarkNameOf(path);
  const entries: BenchmarkEntry[] = [];
  const issues: BenchmarkIssue[] = [];
  for (const line of splitJsonlLines(text)) {
    const outcome = convertLine(kind, name, line);
    if (typeof outcome === 'string') issues.push({ lineNumber: line.lineNumber, reason: outcome });
    else entries.push(outcome);
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { kind, path, name, sha256, entries, issues };
}

/** The name of a published file: its file name without extension, the prefix of its record ids. */
export function benchmarkNameOf(path: string): string {
  return basename(path, extname(path));
}

/** Formats issues one per line as `file:line: reason`. */
export function formatBenchmarkIssues(path: string, issues: readonly BenchmarkIssue[], limit = MAX_LISTED_ISSUES): string {
  const lines = issues.slice(0, limit).map((issue) => `  ${path}:${issue.lineNumber}: ${issue.reason}`);
  if (issues.length > limit) lines.push(`  … and ${issues.length - limit} more malformed line(s) (lines ${issues[limit]!.lineNumber}–${issues.at(-1)!.lineNumber})`);
  return lines.join('\n');
}

/** How many malformed lines an error lists: a wrong file must not flood the terminal. */
const MAX_LISTED_ISSUES = 20;

/** Converts, validates and solves one line; returns the reason on failure. */
function convertLine(kind: BenchmarkKind, name: string, line: JsonlLine): BenchmarkEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(line.text) as unknown;
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const parsed = RAW_SCHEMAS[kind].safeParse(value);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`).join('; ');
  }
  const raw = parsed.data as Record<string, unknown> & { level: number; source?: string; index?: number };
  const instance = kind === 'vprl-minibehaviour' ? toMiniBehaviour(raw) : toFrozenLake(raw);
  if (typeof instance === 'string') return instance;
  const spec = getEnv(instance.task).spec;
  let solution: Solution;
  try {
    spec.validate(instance);
    solution = spec.solve(instance);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const published = typeof raw.optimal_length === 'number' ? raw.optimal_length : null;
  if (published !== null && published !== solution.optimalLength) {
    return `published optimal_length ${published} but the exact solver finds ${solution.optimalLength}`;
  }
  const origin = raw.source ?? kind;
  const index = raw.index ?? null;
  return { lineNumber: line.lineNumber, id: `${name}/${line.lineNumber - 1}`, instance, solution, origin, index, publishedOptimalLength: published };
}

function toFrozenLake(raw: Record<string, unknown> & { level: number }): Instance {
  return { task: 'frozenlake', level: raw.level, rows: raw.rows as string[] };
}

/** VisualPlanning lists the six table cells; ours is a 2-row × 3-column block by its top-left. */
function toMiniBehaviour(raw: Record<string, unknown> & { level: number }): MiniBehaviourInstance | string {
  const table = (raw.table as Array<[number, number]>).map(([row, col]) => ({ row, col }));
  const topLeft = tableTopLeftOf(table);
  if (topLeft === null) {
    const cells = table.map((cell) => `(${cell.row},${cell.col})`).join(' ');
    return `table must be six distinct cells forming 2 rows × 3 columns, got ${table.length} cells: ${cells}`;
  }
  const [startRow, startCol] = raw.start as [number, number];
  const [printerRow, printerCol] = raw.printer as [number, number];
  return {
    task: 'minibehaviour',
    level: raw.level,
    start: { row: startRow, col: startCol },
    startDir: raw.start_dir as 0 | 1 | 2 | 3,
    printer: { row: printerRow, col: printerCol },
    tableTopLeft: topLeft,
  };
}

/** The top-left cell if `cells` is exactly a 2×3 block, else null. */
export function tableTopLeftOf(cells: readonly Pos[]): Pos | null {
  if (cells.length !== 6) return null;
  const row = Math.min(...cells.map((cell) => cell.row));
  const col = Math.min(...cells.map((cell) => cell.col));
  const keys = new Set(cells.map((cell) => `${cell.row},${cell.col}`));
  for (let dr = 0; dr < 2; dr += 1) {
    for (let dc = 0; dc < 3; dc += 1) if (!keys.has(`${row + dr},${col + dc}`)) return null;
  }
  return { row, col };
}

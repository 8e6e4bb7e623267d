/**
 * The stage cache: finished stages and evaluations stored under `reuse.cacheDir`, one folder per
 * key, so a later run whose stage depends on exactly the same things reuses it instead of
 * recomputing it (the dataset cache, `data.cacheDir`, does the same for datasets).
 *
 * ```
 * <cacheDir>/<stage>-<key16>/entry.json      {stage, key, stepsDone, checkpoint, source run, created}
 * <cacheDir>/<stage>-<key16>/checkpoint/     the stage's final checkpoint (hard links)
 * <cacheDir>/<stage>-<key16>/metrics.jsonl   the stage's metrics log (a copy)
 * <cacheDir>/<stage>-<key16>/ledger.jsonl    its rollout ledger, when it has one
 * <cacheDir>/eval-<key16>/entry.json + files one evaluation part (responses + summary)
 * ```
 *
 * Invariants: an entry is complete or absent — it is assembled in a temporary sibling and renamed
 * into place, and `entry.json` is written last inside it. Checkpoint files are hard-linked (they
 * are never modified after they are written: a new step is a new folder), so reuse costs no copy;
 * across file systems, where a link is impossible, the files are copied and the entry says so.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readToolVersion } from '../data/manifest.js';
import { writeJsonAtomic } from '../fs-atomic.js';
import type { StageSelection } from './run-state.js';

/** What `entry.json` records. */
export interface CacheEntry {
  stage: string;
  key: string;
  /** The run that computed the stage. */
  sourceRun: string;
  created: string;
  /** Stage entries: steps and the checkpoint folder (inside the entry). */
  stepsDone?: number;
  /** Trained models: the checkpoint `eval.selection` chose (the entry's checkpoint is that one). */
  selected?: StageSelection;
  /** How the files were stored: `link` (hard links) or `copy` (another file system). */
  storage: 'link' | 'copy';
  /** Files of the entry (relative), besides entry.json. */
  files: string[];
}

/** The package root (dist/… and src/… both sit two levels below it). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let codeVersionMemo: string | null = null;

/**
 * A hash of the code that computes stages: the package version, the compiled orchestrator
 * (`dist/**.js`) and the Python backend (`py_backend/mgsd_backend/**.py`). Any code change makes
 * every stage key new, so a cached stage is never reused by code that would compute it differently.
 */
export function codeVersion(): string {
  if (codeVersionMemo !== null) return codeVersionMemo;
  const hash = createHash('sha256').update(readToolVersion());
  for (const [folder, extension] of [
    ['dist', '.js'],
    [join('py_backend', 'mgsd_backend'), '.py'],
  ] as const) {
    for (const file of listFiles(join(PACKAGE_ROOT, folder)).filter((path) => path.endsWith(extension) && !path.endsWith(`.test${extension}`))) {
      hash.update(relative(PACKAGE_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  codeVersionMemo = hash.digest('hex');
  return codeVersionMemo;
}

/** sha256 of a JSON value (object keys sorted, so key order never changes a key). */
export function hashKey(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, inner]) => inner !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, inner]) => `${JSON.stringify(key)}:${stableJson(inner)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The cache folder of `reuse.cacheDir`. */
export class StageCache {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The folder of `name` (a stage, or `eval`) under `key`. */
  folder(name: string, key: string): string {
    return join(this.root, `${name}-${key.slice(0, 16)}`);
  }

  /** The complete entry of `name` under `key`, or null. */
  lookup(name: string, key: string): { dir: string; entry: CacheEntry } | null {
    const dir = this.folder(name, key);
    const path = join(dir, 'entry.json');
    if (!existsSync(path)) return null;
    const entry = JSON.parse(readFileSync(path, 'utf8')) as CacheEntry;
    return entry.key === key ? { dir, entry } : null; // a 16-hex prefix collision is not a hit
  }

  /**
   * Stores `files` (target name inside the entry → source path; a source folder is stored whole)
   * as the entry of `name` under `key`. Checkpoint folders are linked, logs copied. An entry that
   * already exists is kept (an identical computation).
   */
  publish(name: string, key: string, files: Record<string, { source: string; mode: 'link' | 'copy' }>, meta: Omit<CacheEntry, 'key' | 'created' | 'storage' | 'files'>): void {
    const dir = this.folder(name, key);
    if (existsSync(join(dir, 'entry.json'))) return;
    const temporary = `${dir}.tmp-${process.pid}`;
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary, { recursive: true });
    let storage: CacheEntry['storage'] = 'link';
    for (const [target, { source, mode }] of Object.entries(files)) {
      if (placeTree(source, join(temporary, target), mode) === 'copy' && mode === 'link') storage = 'copy';
    }
    const entry: CacheEntry = { ...meta, key, created: new Date().toISOString(), storage, files: Object.keys(files) };
    writeJsonAtomic(join(temporary, 'entry.json'), entry);
    rmSync(dir, { recursive: true, force: true }); // an incomplete folder (no entry.json) left by a crash
    renameSync(temporary, dir);
  }
}

/**
 * Places `source` (a file or folder) at `target`: hard links for `link` (falling back to a copy
 * only where the file system refuses links — `EXDEV`, `EPERM` — which the caller records), copies
 * for `copy`. Returns how the files were placed.
 */
export function placeTree(source: string, target: string, mode: 'link' | 'copy'): 'link' | 'copy' {
  if (statSync(source).isDirectory()) {
    mkdirSync(target, { recursive: true });
    let placed: 'link' | 'copy' = mode;
    for (const name of readdirSync(source)) {
      if (placeTree(join(source, name), join(target, name), mode) === 'copy') placed = 'copy';
    }
    return placed;
  }
  rmSync(target, { force: true });
  if (mode === 'link') {
    try {
      linkSync(source, target);
      return 'link';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM') throw error;
    }
  }
  copyFileSync(source, target);
  return 'copy';
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)]));
}

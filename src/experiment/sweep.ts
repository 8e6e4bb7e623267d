/**
 * `mgsd sweep`: a grid × seeds of ordinary runs under one folder, run one after the other, sharing
 * stages through the stage cache, then compared (`compare/`).
 *
 * ```
 * <out>/sweep.json                 the plan: preset, --set overrides, grid, seeds, variants, run names
 * <out>/<grid values>-seed<s>/     one ordinary run directory per grid point and seed
 * <out>/compare.{md,html,json}     the comparison of every finished run
 * ```
 *
 * A sweep file (sweep-file.ts) adds named variants, each a list of `--set`s, as a first axis.
 *
 * Resumable as a whole: rerunning the same command skips finished runs (they have `results.json`),
 * resumes an interrupted one from its checkpoints, and starts the rest. A different plan in an
 * existing folder is an error, so a folder never mixes two sweeps.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ConfigError, RunInterrupted } from '../errors.js';
import { writeJsonAtomic } from '../fs-atomic.js';
import { readJsonFile } from '../compare/read-runs.js';
import { type ComparisonFiles, writeComparison } from '../compare/write.js';
import type { Progress } from './progress.js';
import { startRun } from './run.js';
import { VARIANT_KEY } from './sweep-file.js';

/** One grid axis: a config key and the values it takes (YAML text, as `--set` reads it). */
export interface GridAxis {
  key: string;
  values: string[];
}

/** What `sweep.json` records. */
export interface SweepPlan {
  preset: string;
  overrides: string[];
  /** The axes; a sweep file's variants are the first axis, over `name` (sweep-file.ts). */
  grid: GridAxis[];
  seeds: number[];
  /** Sweep files: each variant's own `--set` overrides, by variant name (absent for a plain grid). */
  variants?: Record<string, string[]>;
  /** The command line that started the sweep (for generated docs; not part of the plan's identity). */
  command?: string;
  runs: Array<{ name: string; seed: number; assignment: Record<string, string> }>;
}

/** What `mgsd sweep` was asked to do. */
export interface SweepCommand {
  config: string;
  overrides: string[];
  grid: GridAxis[];
  /** Named variants (a sweep file), each a list of `--set`s; null for a plain grid. */
  variants: Record<string, string[]> | null;
  /** The command line, recorded in sweep.json (null: not recorded). */
  commandLine: string | null;
  seeds: number[];
  out: string;
  reference: string | null;
  shouldReuse: boolean;
  progress: Progress;
  stop: { requested: boolean };
}

/** Parses `key=v1,v2,…` (commas inside brackets or braces belong to the value). */
export function parseGridAxis(text: string): GridAxis {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    throw new ConfigError('grid_syntax', `--grid "${text}": expected key.path=value1,value2`, {
      hint: 'Example: --grid stages.opsd.estimator=full,sampled',
    });
  }
  const values: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text.slice(eq + 1)) {
    if (char === '[' || char === '{') depth += 1;
    if (char === ']' || char === '}') depth -= 1;
    if (char === ',' && depth === 0) {
      values.push(current.trim());
      current = '';
    } else current += char;
  }
  values.push(current.trim());
  return { key: text.slice(0, eq).trim(), values };
}

/**
 * The runs of a sweep: every grid point × seed, grid-major, named from the values and seed. Named
 * variants become the first axis (over `name`, so each run carries its variant's name); their runs
 * are named `<variant>-…-seed<s>`.
 */
export function planSweep(config: string, overrides: string[], givenGrid: GridAxis[], seeds: number[], variants: Record<string, string[]> | null = null): SweepPlan {
  const grid = variants === null ? givenGrid : [{ key: VARIANT_KEY, values: Object.keys(variants) }, ...givenGrid];
  const lastParts = grid.map((axis) => axis.key.split('.').at(-1)!);
  const labels = grid.map((axis, i) => (lastParts.indexOf(lastParts[i]!) === lastParts.lastIndexOf(lastParts[i]!) ? lastParts[i]! : axis.key));
  let points: Array<Record<string, string>> = [{}];
  for (const axis of grid) points = points.flatMap((point) => axis.values.map((value) => ({ ...point, [axis.key]: value })));
  const runs = points.flatMap((assignment) =>
    seeds.map((seed) => {
      const parts = grid.map((axis, i) => (variants !== null && i === 0 ? assignment[axis.key]! : `${labels[i]}=${assignment[axis.key]}`));
      const name = [...parts, `seed${seed}`].join('-').replace(/[^A-Za-z0-9._=,-]/g, '_');
      return { name, seed, assignment };
    }),
  );
  return { preset: config, overrides, grid, seeds, ...(variants === null ? {} : { variants }), runs };
}

/** The `--set`s of one run of `plan`: the sweep's, its variant's, its grid values, its seed. */
export function runOverrides(plan: SweepPlan, entry: SweepPlan['runs'][number]): string[] {
  const variant = plan.variants === undefined ? [] : plan.variants[entry.assignment[VARIANT_KEY]!]!;
  const gridOverrides = Object.entries(entry.assignment).map(([key, value]) => `${key}=${value}`);
  return [...plan.overrides, ...variant, ...gridOverrides, `seed=${entry.seed}`];
}

/** Runs (or continues) the sweep; returns the comparison files. */
export async function runSweep(command: SweepCommand): Promise<ComparisonFiles> {
  const out = resolve(command.out);
  const plan = planSweep(command.config, command.overrides, command.grid, command.seeds, command.variants);
  checkPlan(out, plan);
  writeJsonAtomic(join(out, 'sweep.json'), command.commandLine === null ? plan : { ...plan, command: command.commandLine });
  for (const [index, entry] of plan.runs.entries()) {
    const dir = join(out, entry.name);
    const label = `[sweep ${index + 1}/${plan.runs.length}] ${entry.name}`;
    if (existsSync(join(dir, 'results.json'))) {
      command.progress.note(`${label}: finished earlier, skipped`);
      continue;
    }
    const isStarted = existsSync(join(dir, 'config.resolved.json'));
    command.progress.note(`${label}: ${isStarted ? 'resuming' : 'starting'}`);
    try {
      await startRun({
        config: command.config,
        overrides: isStarted ? [] : runOverrides(plan, entry),
        out: isStarted ? null : dir,
        resume: isStarted ? dir : null,
        shouldReuse: command.shouldReuse,
        progress: command.progress,
        stop: command.stop,
      });
    } catch (error) {
      if (!(error instanceof RunInterrupted)) throw error;
      throw new RunInterrupted('interrupted', `sweep ${out} interrupted in run ${entry.name}: ${error.message}`, {
        hint: 'Continue the sweep by rerunning the same `mgsd sweep` command: finished runs are skipped, this one resumes.',
        cause: error,
        signal: error.signal,
      });
    }
  }
  return writeComparison([out], { out, reference: command.reference });
}

/** A folder that holds another sweep's plan is refused (a sweep's runs must share one plan). */
function checkPlan(out: string, plan: SweepPlan): void {
  const path = join(out, 'sweep.json');
  if (!existsSync(path)) return;
  const earlier = readJsonFile<SweepPlan>(path);
  const same = (a: SweepPlan) => JSON.stringify([a.preset, a.overrides, a.grid, a.seeds, a.variants ?? null]);
  if (same(earlier) !== same(plan)) {
    throw new ConfigError('sweep_mismatch', `${out} holds another sweep (${path}: preset ${earlier.preset}, grid ${JSON.stringify(earlier.grid)}, seeds ${earlier.seeds.join(',')})`, {
      hint: 'Rerun that sweep with its own arguments to continue it, or choose another --out.',
    });
  }
}

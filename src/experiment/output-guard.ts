/**
 * Where a command may write: never over one of its own inputs, never into a dataset (its files are
 * hashed in its manifest and read by other runs), and into a run directory only under that run's
 * lock. Every check runs before any work, so a bad `--out` fails in a second.
 *
 * Paths are compared by their real location (symbolic links and `..` resolved), so
 * `--out ./a/../responses.jsonl` or a link to the responses file is recognised too.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { datasetContaining } from '../data/manifest.js';
import { UsageError } from '../errors.js';
import { RunDir } from './run-dir.js';

/** A file or folder a command reads, named as the user gave it (`--responses`). */
export interface NamedInput {
  label: string;
  path: string;
}

/** The real absolute location of `path`, also when it (or its last parts) does not exist yet. */
export function realLocation(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(realLocation(parent), basename(absolute));
}

/**
 * Refuses `out` (named `label`, e.g. `--summary`) when it is one of `inputs` or lies inside an
 * mgsd dataset. `inputs` may hold folders: then writing anywhere inside one is refused as well.
 */
export function assertSafeOutput(label: string, out: string, inputs: readonly NamedInput[]): void {
  const target = realLocation(out);
  const dataset = datasetContaining(target);
  if (dataset !== null) {
    throw new UsageError('output_in_dataset', `${label} ${out} lies inside the dataset ${dataset}: mgsd never writes into a dataset (its files are hashed in its manifest)`, {
      hint: `Choose a path outside ${dataset} for ${label}.`,
      context: { out: target, dataset },
    });
  }
  for (const input of inputs) {
    const source = realLocation(input.path);
    if (target === source || target.startsWith(`${source}/`)) {
      const how = target === source ? 'is the same file as' : 'lies inside';
      throw new UsageError('output_is_input', `${label} ${out} ${how} ${input.label} ${input.path}: writing it would destroy an input`, {
        hint: `Choose another path for ${label}.`,
        context: { out: target, input: source },
      });
    }
  }
}

/** The run directory containing `path` (the path itself or a parent folder), or null. */
export function runContaining(path: string): RunDir | null {
  let current = realLocation(path);
  for (;;) {
    const run = new RunDir(current);
    if (existsSync(run.config)) return run;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

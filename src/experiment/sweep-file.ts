/**
 * Sweep files (`mgsd sweep --file <yaml>`): a sweep whose variants differ in several keys at once —
 * e.g. a baseline switched on, an estimator and a rollout temperature — which a `--grid` product
 * cannot express. Each named variant is a list of `--set` overrides; the runs are variants × seeds.
 *
 * ```yaml
 * config: tiny                  # preset or YAML file (relative paths: from the sweep file's folder)
 * seeds: [0, 1, 2]
 * set: [eval.validation.every=50]          # for every run
 * variants:
 *   mgsd: [baselines.grpo.enabled=true]
 *   sampled-t1: [stages.opsd.estimator=sampled, stages.opsd.rollout.temperature=1.0]
 * reference: mgsd/image@name=mgsd          # optional: the comparison reference
 * ```
 *
 * Invariant: a variant's runs get `name=<variant>`, so `mgsd compare` groups them by `name` (the
 * sweep plan names it as its grid key) and the variant's name is its label everywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { ConfigError } from '../errors.js';
import { formatIssues } from './load.js';

/** The config key that carries a run's variant name. */
export const VARIANT_KEY = 'name';

const SweepFileSchema = z
  .object({
    config: z.string().min(1).describe('preset name under configs/ or a YAML file (relative to the sweep file)'),
    seeds: z.array(z.number().int().min(0).max(0xffffffff)).nonempty().describe('training seeds'),
    set: z.array(z.string().min(3)).default([]).describe('--set overrides for every run'),
    variants: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a variant name: letters, digits, ".", "_", "-"'), z.array(z.string().min(3)))
      .refine((variants) => Object.keys(variants).length > 0, 'at least one variant')
      .describe('variant name → its --set overrides'),
    reference: z.string().nullable().default(null).describe('comparison reference: model/input[@name=<variant>]'),
  })
  .strict();

/** A parsed sweep file. */
export type SweepFile = z.infer<typeof SweepFileSchema>;

/** Reads and validates a sweep file; a relative `config` path is resolved from the file's folder. */
export function readSweepFile(path: string): SweepFile {
  if (!existsSync(path)) {
    throw new ConfigError('sweep_file_missing', `sweep file ${path} does not exist`, { hint: 'Pass a YAML file such as configs/sweeps/tiny-protocol.yaml.' });
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError('sweep_file_yaml', `sweep file ${path}: not valid YAML`, { cause: error, hint: 'Fix the YAML syntax at the position named above.' });
  }
  const parsed = SweepFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError('sweep_file_invalid', `sweep file ${path}:\n${formatIssues(parsed.error.issues, raw)}`, {
      hint: 'Keys: config, seeds, set, variants (name → list of key.path=value), reference (docs/experiments.md).',
    });
  }
  const file = parsed.data;
  for (const [variant, sets] of Object.entries(file.variants)) {
    const clash = [...file.set, ...sets].find((set) => set.split('=')[0]!.trim() === VARIANT_KEY);
    if (clash !== undefined) {
      throw new ConfigError('sweep_file_invalid', `sweep file ${path}: variant ${variant} sets "${clash}", but ${VARIANT_KEY} carries the variant's name`, {
        hint: `Remove the ${VARIANT_KEY}= override; each run is named after its variant.`,
      });
    }
  }
  const isFile = file.config.endsWith('.yaml') || file.config.endsWith('.yml');
  return { ...file, config: isFile && !isAbsolute(file.config) ? resolve(dirname(path), file.config) : file.config };
}

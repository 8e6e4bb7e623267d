/**
 * The config sections the data and scoring commands read (`profile`, `data`, `parser`): from a
 * preset when `--config` is given, otherwise the schema's defaults; `--set` overrides apply in
 * both cases. Defaults therefore still live only in `experiment/config.ts`.
 */
import type { z } from 'zod';

import { ConfigError } from '../errors.js';
import { type ExperimentConfig, ExperimentConfigSchema } from '../experiment/config.js';
import { applyOverride, formatIssues, loadConfig } from '../experiment/load.js';

/** The sections of a config that need no model, stages or tasks. */
export type ConfigSections = Pick<ExperimentConfig, 'profile' | 'data' | 'parser'>;

const SECTION_NAMES = ['profile', 'data', 'parser'] as const;

/** Loads the sections from `configName` (a preset or file) or, without one, from the schema defaults. */
export function loadConfigSections(configName: string | undefined, overrides: readonly string[]): ConfigSections {
  if (configName !== undefined) return loadConfig(configName, overrides).config;
  const raw: Record<string, unknown> = {};
  for (const override of overrides) applyOverride(raw, override);
  const extra = Object.keys(raw).filter((key) => !(SECTION_NAMES as readonly string[]).includes(key));
  if (extra.length > 0) {
    throw new ConfigError('override_needs_config', `--set ${extra.join(', ')}: without --config only profile, data.* and parser.* can be set`, {
      hint: 'Pass --config <preset|file> to change other keys.',
    });
  }
  const shape = ExperimentConfigSchema.shape;
  return {
    profile: parseSection('profile', shape.profile, raw),
    data: parseSection('data', shape.data, raw),
    parser: parseSection('parser', shape.parser, raw),
  };
}

function parseSection<T>(name: string, schema: z.ZodType<T>, raw: Record<string, unknown>): T {
  const result = schema.safeParse(raw[name]);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ ...issue, path: [name, ...issue.path] }));
  throw new ConfigError('config_invalid', `--set: invalid value\n${formatIssues(issues, raw)}`, {
    hint: 'Fix the --set values above; docs/configuration.md lists every key.',
  });
}

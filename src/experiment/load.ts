/**
 * Loading an experiment config: find the preset, read YAML, apply `--set` overrides, validate.
 *
 * Every failure is a `ConfigError` that names the file, the key path, the value received and what
 * is allowed, one line per problem (zod's issues, printed with their paths).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';

import { PACKAGE_ROOT } from '../data/benchmarks.js';
import { readTextFile } from '../data/jsonl.js';
import { ConfigError } from '../errors.js';
import { type ExperimentConfig, ExperimentConfigSchema } from './config.js';
import { type ChangedKey, changedKeys, mergeValue } from './config-diff.js';

/** The folder of bundled presets (`configs/` at the package root). */
export const PRESETS_DIR = fileURLToPath(new URL('../../configs/', import.meta.url));

/** The preset `npx mgsd run` uses without `--config`. */
export const DEFAULT_PRESET = 'tiny';

/** A loaded, validated config and where it came from. */
export interface LoadedConfig {
  config: ExperimentConfig;
  /** Absolute path of the YAML file. */
  source: string;
  /** The overrides applied, as given. */
  overrides: string[];
  /** The resolved keys the overrides changed from the preset (empty without overrides). */
  changes: ChangedKey[];
}

/** Resolves `name` to a preset file: an existing path, or a name under `configs/`. */
export function resolvePresetPath(name: string): string {
  const candidates = isAbsolute(name) ? [name] : [resolve(name), join(PRESETS_DIR, name), join(PRESETS_DIR, `${name}.yaml`)];
  const found = candidates.find((candidate) => existsSync(candidate) && candidate.match(/\.ya?ml$/));
  const folder = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isDirectory());
  if (found === undefined && folder !== undefined) {
    throw new ConfigError('config_is_folder', `config "${name}" is a folder (${folder}), not a YAML file`, {
      hint: `Pass a YAML file, e.g. ${join(folder, 'experiment.yaml')}, or a preset name (${listPresets().join(', ')}).`,
    });
  }
  if (found === undefined) {
    throw new ConfigError('config_not_found', `config "${name}" not found (looked for ${candidates.join(', ')})`, {
      hint: `Pass a YAML file path, or a preset name from ${PRESETS_DIR} (${listPresets().join(', ')}).`,
    });
  }
  return found;
}

/** Names of the bundled presets (none when the folder is missing: this feeds error hints). */
export function listPresets(): string[] {
  return existsSync(PRESETS_DIR) ? readdirYaml(PRESETS_DIR) : [];
}

function readdirYaml(dir: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => file.replace(/\.yaml$/, ''))
    .sort();
}

/** Loads a preset or file, applies `key.path=value` overrides, and validates the result. */
export function loadConfig(name: string, overrides: readonly string[] = []): LoadedConfig {
  const source = resolvePresetPath(name);
  const raw = readYaml(source);
  const presetRaw = overrides.length === 0 ? null : structuredClone(raw);
  for (const override of overrides) applyOverride(raw, override);
  resolveTinyBasePath(raw, dirname(source), true);
  // Resolved alike (when found), so the comparison below does not list the path as changed.
  if (presetRaw !== null) resolveTinyBasePath(presetRaw, dirname(source), false);
  const preset = presetRaw === null ? null : ExperimentConfigSchema.safeParse(presetRaw);
  const config = validateConfig(raw, source);
  // A preset that is only valid with its overrides (a partial file) is compared as written.
  const changes = preset === null ? [] : changedKeys(preset.success ? preset.data : readYaml(source), config);
  return { config, source, overrides: [...overrides], changes };
}

/**
 * Makes a tiny model's relative `model.path` (a pretrained base directory) absolute, in place: from
 * the config file's folder, else the current directory, else the package root — the first that
 * exists — so the embedded preset finds its shipped base from any folder and from an installed
 * package. (An hf `model.path` may be a hub id and is left as written.) Applied after the `--set`
 * overrides, so `--set model.path=null` needs no base on disk.
 */
function resolveTinyBasePath(raw: Record<string, unknown>, configDir: string, mustExist: boolean): void {
  const model = raw.model;
  if (model === null || typeof model !== 'object' || Array.isArray(model)) return;
  const section = model as Record<string, unknown>;
  const path = section.path;
  if ((section.kind ?? 'tiny') !== 'tiny' || typeof path !== 'string' || path === '' || isAbsolute(path)) return;
  const candidates = [...new Set([configDir, process.cwd(), PACKAGE_ROOT].map((dir) => resolve(dir, path)))];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) {
    if (!mustExist) return;
    throw new ConfigError('base_not_found', `model.path: the tiny base "${path}" was not found (looked for ${candidates.join(', ')})`, {
      hint: 'Point model.path at a directory written by `mgsd pretrain --out <dir>`, or set stages.base.enabled=true (and model.path=null) to train a base from scratch.',
      context: { key: 'model.path' },
    });
  }
  section.path = found;
}

/**
 * Validates a config that mgsd itself wrote (a run's `config.resolved.json`, a base card's recipe)
 * after carrying keys that have moved since into their new place, so runs and bases written by an
 * earlier mgsd stay readable and resumable. A person's own file gets the refusal naming the new key.
 */
export function validateWrittenConfig(raw: unknown, source: string): ExperimentConfig {
  return validateConfig(upgradeWritten(raw), source);
}

/** `stages.opsd.validateEvery` (one stage's cadence) became `eval.validation.every` (every trained model's). */
function upgradeWritten(raw: unknown): unknown {
  if (!isMapping(raw) || !isMapping(raw.stages) || !isMapping(raw.stages.opsd) || !('validateEvery' in raw.stages.opsd)) return raw;
  const { validateEvery, ...opsd } = raw.stages.opsd;
  const evalSection = isMapping(raw.eval) ? raw.eval : {};
  const validation = isMapping(evalSection.validation) ? evalSection.validation : {};
  return {
    ...raw,
    stages: { ...raw.stages, opsd },
    eval: { ...evalSection, validation: { every: validateEvery, ...validation } },
  };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates a plain object (e.g. `config.resolved.json` of a run) against the schema. */
export function validateConfig(raw: unknown, source: string): ExperimentConfig {
  const result = ExperimentConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError('config_invalid', `${source}: invalid configuration\n${formatIssues(result.error.issues, raw)}`, {
      hint: 'Fix the keys above in the file or with --set key.path=value; docs/configuration.md lists every key.',
      context: { source },
    });
  }
  return result.data;
}

function readYaml(path: string): Record<string, unknown> {
  const text = readTextFile(path, 'YAML config', ConfigError);
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? `:${error.linePos[0].line}` : '';
    throw new ConfigError('config_yaml', `${path}${where}: not valid YAML`, { cause: error, hint: 'Fix the YAML syntax.' });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('config_yaml', `${path}: expected a mapping at the top level, got ${describe(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

/** Keys that would reach `Object.prototype` (or a constructor) instead of a config section. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Applies one `a.b.c=value` override in place; the value is read as YAML. A mapping value updates
 * the keys it names and keeps the others; a scalar or list replaces the key.
 */
export function applyOverride(target: Record<string, unknown>, override: string): void {
  const eq = override.indexOf('=');
  if (eq <= 0) {
    throw new ConfigError('override_syntax', `--set "${override}": expected key.path=value`, {
      hint: 'Example: --set stages.opsd.steps=100 --set seed=3',
    });
  }
  const path = override.slice(0, eq).trim().split('.');
  for (const key of path) {
    if (key === '') throw new ConfigError('override_syntax', `--set "${override}": empty key in path`, { hint: 'Example: --set stages.opsd.steps=100' });
    if (FORBIDDEN_KEYS.has(key)) {
      throw new ConfigError('override_forbidden_key', `--set "${override}": "${key}" is not a config key`, {
        hint: '`mgsd config` prints every key; docs/configuration.md describes them.',
        context: { key },
      });
    }
  }
  const value = parseOverrideValue(override, override.slice(eq + 1));
  let node: Record<string, unknown> = target;
  for (const [index, key] of path.entries()) {
    if (index === path.length - 1) {
      node[key] = mergeValue(node[key], value); // a mapping updates the section, it does not replace it
      return;
    }
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined || next === null) {
      node[key] = {};
    } else if (typeof next !== 'object' || Array.isArray(next)) {
      throw new ConfigError('override_path', `--set "${override}": ${path.slice(0, index + 1).join('.')} is ${describe(next)}, not a section`, {
        hint: `Set the whole key (--set ${path.slice(0, index + 1).join('.')}=…), or check the key path with \`mgsd config\`.`,
      });
    }
    node = node[key] as Record<string, unknown>;
  }
}

/** The value of an override as YAML (`3`, `true`, `[3, 4]`, `paper`); bad YAML is a usage error. */
function parseOverrideValue(override: string, text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    const reason = error instanceof YAMLParseError ? error.message.split('\n')[0] : (error as Error).message;
    throw new ConfigError('override_value', `--set "${override}": the value is not valid YAML (${reason})`, {
      hint: 'Quote text values and close lists, e.g. --set seed=3 or --set tasks.frozenlake.levels=[3,4].',
    });
  }
}

/** One line per issue: `path: message (got value)`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string {
  return issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      const got = lookup(raw, issue.path);
      const gotText = issue.code === 'unrecognized_keys' || got === undefined ? '' : ` (got ${describe(got)})`;
      return `  ${path}: ${issue.message}${gotText}`;
    })
    .join('\n');
}

function lookup(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (value !== null && typeof value === 'object') return 'a mapping';
  return String(value);
}

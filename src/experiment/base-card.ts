/**
 * The model card of a tiny base written by `mgsd pretrain`: `card.json` (machine-readable) and
 * `README.md` (for people), beside the model files of the tiny export layout (`config.json`,
 * `model.safetensors`).
 *
 * Invariants:
 * - `card.json` lists the sha256 of every other file of the directory; `verifyBaseDir` refuses a
 *   directory whose files are missing, extra or changed, so a run never loads a damaged base.
 * - The recipe hash covers only what shapes the trained weights and their metrics (the dataset build
 *   input, the prompt profile, the model shape, the base stage, the training seed, the parser and the
 *   benchmark decoding), so a config key added later with a default does not invalidate a shipped
 *   base, while any change to the recipe does.
 * - The card's own sha256 is the base's identity in the stage keys (`stage-keys.ts`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import { GENERATOR_VERSION } from '../envs/index.js';
import { ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';
import { toBuildInput } from './dataset-input.js';
import { readRunFile, sha256OfFile } from './run-files.js';

/** The card's file name in a base directory. */
export const CARD_FILE = 'card.json';
/** The human-readable card. */
export const CARD_README = 'README.md';
/** Format tag of `card.json`. */
export const CARD_FORMAT = 'mgsd-base-card/1';
/** The model files of the tiny export layout (py_backend/mgsd_backend/models/tiny_vlm.py `save`). */
export const TINY_MODEL_FILES = ['config.json', 'model.safetensors'] as const;

/** The rates the card keeps for one evaluation input (text, teacher). */
const InputMetricsSchema = z
  .object({
    n: z.number().int(),
    /** Task-macro success (each task's level-balanced mean, averaged over tasks). */
    macroSuccess: z.number(),
    macroOptimalSuccess: z.number(),
    /** task → level → success rate (with n and the 95 % Wilson interval). */
    levels: z.record(z.string(), z.record(z.string(), z.object({ n: z.number().int(), success: z.number(), low: z.number(), high: z.number() }).strict())),
  })
  .strict();

/** The shape of `card.json`. */
export const BaseCardSchema = z
  .object({
    format: z.literal(CARD_FORMAT),
    mgsd: z.string(),
    gitCommit: z.string().nullable(),
    createdAt: z.string(),
    recipe: z
      .object({
        source: z.string(),
        overrides: z.array(z.string()),
        sha256: z.string(),
        /** The resolved config the base was trained with (all keys, for reading; the hash covers `recipeOf`). */
        config: z.record(z.string(), z.unknown()),
      })
      .strict(),
    model: z.object({ kind: z.literal('tiny'), tiny: z.record(z.string(), z.number()), imageSizePx: z.number().int() }).strict(),
    dataset: z.object({ key: z.string(), manifestSha256: z.string(), counts: z.record(z.string(), z.unknown()) }).strict(),
    training: z.object({ steps: z.number().int(), wallSeconds: z.number(), cpuSeconds: z.number().nullable(), attempts: z.number().int() }).strict(),
    metrics: z.object({ text: InputMetricsSchema, teacher: InputMetricsSchema }).strict(),
    machine: z.object({ os: z.string(), cpu: z.string(), cores: z.number().int() }).strict(),
    commands: z.object({ rebuild: z.string(), measure: z.string() }).strict(),
    /** Relative path → sha256 of every file of the directory except card.json itself. */
    files: z.record(z.string(), z.string()),
  })
  .strict();

/** A parsed `card.json`. */
export type BaseCard = z.infer<typeof BaseCardSchema>;
/** The metrics of one evaluation input on the card. */
export type InputMetrics = z.infer<typeof InputMetricsSchema>;

/** The part of a config that shapes a pretrained base and its measured metrics. */
export function recipeOf(config: ExperimentConfig): Record<string, unknown> {
  const { kind, tiny, dtype } = config.model;
  const { enabled: _enabled, ...base } = config.stages.base;
  const { maxNewTokens, temperature } = config.eval;
  return { generator: GENERATOR_VERSION, seed: config.seed, profile: config.profile, data: toBuildInput(config), model: { kind, tiny, dtype }, base, parser: config.parser, eval: { maxNewTokens, temperature } };
}

/** sha256 of `recipeOf(config)` (stable: the schema fixes the key order). */
export function recipeHash(config: ExperimentConfig): string {
  return createHash('sha256').update(JSON.stringify(recipeOf(config))).digest('hex');
}

/** A checked base directory: its card and the card's sha256 (the base's identity). */
export interface VerifiedBase {
  dir: string;
  card: BaseCard;
  cardSha256: string;
}

/**
 * Checks a base directory before any worker loads it: the card parses, every file it lists exists
 * with its sha256, no model file is unlisted, and the model shape matches `config` (`model.tiny`,
 * `data.imageSizePx`). `key` names the config key that pointed here, for the messages.
 */
export function verifyBaseDir(dir: string, config: ExperimentConfig, key = 'model.path'): VerifiedBase {
  const card = readBaseCard(dir, key);
  for (const [file, expected] of Object.entries(card.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw damaged(dir, key, `${file} is missing`);
    const actual = sha256OfFile(path);
    if (actual !== expected) throw damaged(dir, key, `${file} has sha256 ${actual.slice(0, 12)}…, the card says ${expected.slice(0, 12)}…`);
  }
  const unlisted = readdirSync(dir).filter((file) => file !== CARD_FILE && !Object.hasOwn(card.files, file));
  if (unlisted.length > 0) throw damaged(dir, key, `${unlisted.join(', ')} not listed in ${CARD_FILE}`);
  for (const file of TINY_MODEL_FILES) {
    if (!Object.hasOwn(card.files, file)) throw damaged(dir, key, `the card lists no ${file}`);
  }
  assertShapeMatches(dir, card, config, key);
  return { dir, card, cardSha256: sha256OfFile(join(dir, CARD_FILE)) };
}

/** Reads and validates `card.json` of a base directory. */
export function readBaseCard(dir: string, key = 'model.path'): BaseCard {
  const path = join(dir, CARD_FILE);
  if (!existsSync(path)) {
    throw new ConfigError('base_card_missing', `${key}: ${dir} holds no ${CARD_FILE}, so it is not a base written by \`mgsd pretrain\``, {
      hint: 'Point model.path at a directory written by `mgsd pretrain --out <dir>`, or set stages.base.enabled=true to train a base from scratch.',
      context: { key, dir },
    });
  }
  return readRunFile(path, BaseCardSchema, 'base model card', `Restore ${dir} as \`mgsd pretrain\` wrote it (its card says how to rebuild it).`);
}

function assertShapeMatches(dir: string, card: BaseCard, config: ExperimentConfig, key: string): void {
  const wanted: Record<string, number> = { ...config.model.tiny, imageSizePx: config.data.imageSizePx };
  const saved: Record<string, number> = { ...card.model.tiny, imageSizePx: card.model.imageSizePx };
  const differences = Object.keys(wanted)
    .filter((name) => wanted[name] !== saved[name])
    .map((name) => `${name === 'imageSizePx' ? 'data.imageSizePx' : `model.tiny.${name}`} ${wanted[name]} (base: ${saved[name]})`);
  if (differences.length === 0) return;
  throw new ConfigError('base_shape_mismatch', `${key}: the base in ${dir} has another shape than this config: ${differences.join(', ')}`, {
    hint: 'Set model.tiny and data.imageSizePx to the values the base was trained with (its card.json, `model`), or train a matching base with `mgsd pretrain`.',
    context: { key, dir },
  });
}

function damaged(dir: string, key: string, what: string): ConfigError {
  return new ConfigError('base_damaged', `${key}: the base in ${dir} does not match its ${CARD_FILE}: ${what}`, {
    hint: `Restore the directory (e.g. \`git checkout -- ${dir}\`), or rebuild it with the command in its ${CARD_README}.`,
    context: { key, dir },
  });
}

/**
 * The pretrained base a config loads (tiny, `stages.base.enabled` false, `model.path` set), checked
 * with `verifyBaseDir`; null when the config trains its base or has none.
 */
export function configuredBaseOf(config: ExperimentConfig): VerifiedBase | null {
  const path = loadedBasePath(config);
  return path === null ? null : verifyBaseDir(path, config);
}

/** The directory of the pretrained base a config loads, or null (see `configuredBaseOf`). */
export function loadedBasePath(config: ExperimentConfig): string | null {
  return config.model.kind === 'tiny' && !config.stages.base.enabled ? config.model.path : null;
}

/** The identity of a loaded base in the stage keys: the sha256 of its card (which hashes every file). */
export function baseIdentityOf(dir: string): string {
  const path = join(dir, CARD_FILE);
  if (!existsSync(path)) readBaseCard(dir); // throws the error that says what a base directory is
  return sha256OfFile(path);
}


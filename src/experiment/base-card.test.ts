import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError } from '../errors.js';
import { type BaseCard, CARD_FORMAT, readBaseCard, recipeHash, verifyBaseDir } from './base-card.js';
import { renderReadme, writeCard } from './base-card-write.js';
import { loadConfig } from './load.js';
import { stageKeysOf } from './stage-keys.js';

const scratch: string[] = [];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const recipe = loadConfig('tiny-base').config;
const metrics = { n: 2, macroSuccess: 0.5, macroOptimalSuccess: 0.5, levels: { frozenlake: { '3': { n: 2, success: 0.5, low: 0.09, high: 0.91 } } } };

/** A base directory with stand-in model files and a card written by `writeCard`. */
function fakeBase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-base-card-'));
  scratch.push(dir);
  writeFileSync(join(dir, 'config.json'), '{"kind": "tiny"}\n');
  writeFileSync(join(dir, 'model.safetensors'), 'weights');
  const card: Omit<BaseCard, 'files'> = {
    format: CARD_FORMAT,
    mgsd: '0.0.0',
    gitCommit: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    recipe: { source: 'configs/tiny-base.yaml', overrides: [], sha256: recipeHash(recipe), config: { ...recipe } },
    model: { kind: 'tiny', tiny: { ...recipe.model.tiny }, imageSizePx: recipe.data.imageSizePx },
    dataset: { key: 'k', manifestSha256: 's', counts: {} },
    training: { steps: 1, wallSeconds: 1, cpuSeconds: 1, attempts: 1 },
    metrics: { text: metrics, teacher: metrics },
    machine: { os: 'linux', cpu: 'cpu', cores: 2 },
    commands: { rebuild: 'npx mgsd pretrain --out b', measure: 'npx mgsd pretrain --measure b' },
  };
  writeCard(dir, card);
  return dir;
}

describe('verifyBaseDir', () => {
  it('accepts a base whose files match its card and whose shape matches the config', () => {
    const dir = fakeBase();
    const verified = verifyBaseDir(dir, recipe);
    expect(Object.keys(verified.card.files)).toEqual(['README.md', 'config.json', 'model.safetensors']);
    expect(verified.cardSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a changed, a missing and an unlisted file, naming the file', () => {
    const changed = fakeBase();
    writeFileSync(join(changed, 'model.safetensors'), 'other weights');
    expect(() => verifyBaseDir(changed, recipe)).toThrow(/model\.safetensors has sha256 .* the card says/);
    const missing = fakeBase();
    rmSync(join(missing, 'config.json'));
    expect(() => verifyBaseDir(missing, recipe)).toThrow(/config\.json is missing/);
    const extra = fakeBase();
    writeFileSync(join(extra, 'notes.txt'), 'x');
    expect(() => verifyBaseDir(extra, recipe)).toThrow(/notes\.txt not listed in card\.json/);
  });

  it('refuses a base of another shape, naming the keys and both values', () => {
    const dir = fakeBase();
    const wider = loadConfig('tiny-base', ['model.tiny.dModel=64', 'data.imageSizePx=48']).config;
    const error = (() => {
      try {
        verifyBaseDir(dir, wider);
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('model.tiny.dModel 64 (base: 128)');
    expect((error as Error).message).toContain('data.imageSizePx 48 (base: 40)');
  });

  it('refuses a folder without a card, saying what a base directory is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mgsd-base-card-'));
    scratch.push(dir);
    expect(() => readBaseCard(dir)).toThrow(/holds no card\.json, so it is not a base written by `mgsd pretrain`/);
  });
});

describe('recipeHash', () => {
  it('changes with the base stage and the data, not with keys that do not shape the base', () => {
    const hash = recipeHash(recipe);
    expect(recipeHash(loadConfig('tiny-base', ['stages.base.steps=10']).config)).not.toBe(hash);
    expect(recipeHash(loadConfig('tiny-base', ['tasks.maze.perLevel.train=10']).config)).not.toBe(hash);
    expect(recipeHash(loadConfig('tiny-base', ['stages.opsd.steps=10', 'name=other', 'backend.requestTimeoutMs=5000']).config)).toBe(hash);
  });
});

describe('renderReadme', () => {
  it('shows both headline metrics and the rebuild and measure commands', () => {
    const text = renderReadme(readBaseCard(fakeBase()));
    expect(text).toContain('Text-only task-macro success: **50.0 %**');
    expect(text).toContain('npx mgsd pretrain --out b');
    expect(text).toContain('npx mgsd pretrain --measure b');
  });
});

describe('a loaded base in the stage keys and the config rules', () => {
  const keysWith = (overrides: string[]) => stageKeysOf(loadConfig('tiny', overrides).config, 'dataset-key');

  it('keys every stage by the base\'s card, not its path: another base changes them, a moved copy does not', () => {
    const first = fakeBase();
    const second = fakeBase();
    writeFileSync(join(second, 'model.safetensors'), 'other weights');
    writeCard(second, readBaseCard(first)); // a valid card for the other weights
    const moved = fakeBase(); // same bytes as `first`, another folder
    const keyOf = (dir: string) => keysWith([`model.path=${dir}`, 'stages.base.enabled=false']);
    expect(keyOf(first).models.base).toBe(keyOf(moved).models.base);
    expect(keyOf(first).sft).toBe(keyOf(moved).sft);
    expect(keyOf(first).models.base).not.toBe(keyOf(second).models.base);
    expect(keyOf(first).sft).not.toBe(keyOf(second).sft);
  });

  it('ignores model.path when the base stage trains a base from scratch', () => {
    const dir = fakeBase();
    expect(keysWith([`model.path=${dir}`, 'stages.base.enabled=true'])).toEqual(keysWith(['model.path=null', 'stages.base.enabled=true']));
  });

  it('allows cold-start rehearsal with a loaded base (tiny only), not with an hf model', () => {
    const dir = fakeBase();
    expect(loadConfig('tiny', [`model.path=${dir}`, 'stages.base.enabled=false', 'stages.sft.rehearsalFraction=0.3']).config.stages.sft.rehearsalFraction).toBe(0.3);
    expect(() => loadConfig('qwen3-vl-2b', ['model.path=/models/qwen', 'stages.sft.rehearsalFraction=0.3'])).toThrow(/rehearsalFraction: rehearsal replays text-only base-stage examples/);
  });

  it('resolves a relative model.path from the config file\'s folder, and names the places searched when it is missing', () => {
    const dir = fakeBase();
    const configFile = join(dir, '..', `${basename(dir)}.yaml`);
    scratch.push(configFile);
    writeFileSync(configFile, `tasks: { maze: { levels: [3] } }\nmodel: { path: ${basename(dir)} }\nstages: { base: { enabled: false } }\n`);
    expect(loadConfig(configFile).config.model.path).toBe(dir);
    expect(() => loadConfig(configFile, ['model.path=no-such-base'])).toThrow(/model\.path: the tiny base "no-such-base" was not found \(looked for /);
  });
});

/**
 * `mgsd pretrain` end to end, as a user runs it (the built CLI, real Python workers): a miniature
 * base is pretrained, written with its card, re-measured, and loaded by `mgsd run` in place of a
 * base stage (model.path, stages.base.enabled false, with cold-start rehearsal); a damaged or
 * mismatched base is refused before any worker starts. The card checks are those the CI test
 * (src/experiment/shipped-base.test.ts) runs on the shipped base.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readBaseCard, recipeHash, verifyBaseDir } from '../../src/experiment/base-card.js';
import { loadConfig } from '../../src/experiment/load.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-pretrain-'));
const BASE = join(WORK, 'base');
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

const SHAPE = 'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}';
const tasks = ['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 8, val: 2, test: 2}`);
const RECIPE = [SHAPE, ...tasks, 'tasks.frozenlake.levels=[3]', 'stages.base={steps: 3, batchSize: 8}', 'backend.ranks=1', 'eval.maxNewTokens=24', `data.cacheDir=${join(WORK, 'datasets')}`, `reuse.cacheDir=${join(WORK, 'stages')}`];
const set = (overrides: readonly string[]): string[] => overrides.flatMap((o) => ['--set', o]);

async function mgsd(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa(process.execPath, [CLI, ...args], { cwd: WORK, reject: false, timeout: 240_000 });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

let pretrained: { exitCode: number; stdout: string; stderr: string };
beforeAll(async () => {
  pretrained = await mgsd('pretrain', ...set(RECIPE), '--out', BASE, '--run', join(WORK, 'pretrain-run'));
}, 240_000);

describe('mgsd pretrain', () => {
  it('writes the model files, README.md and a card whose hashes, recipe and shape check out', () => {
    expect(pretrained.exitCode, pretrained.stderr).toBe(0);
    expect(pretrained.stderr).toMatch(/\[base\] done in .* steps 3/);
    expect(pretrained.stdout).toMatch(/text-only macro success [\d.]+%, teacher view [\d.]+%/);
    const config = loadConfig('tiny-base', RECIPE).config;
    const { card } = verifyBaseDir(BASE, config);
    expect(Object.keys(card.files)).toEqual(['README.md', 'config.json', 'model.safetensors']);
    expect(card.recipe.sha256).toBe(recipeHash(config));
    expect(card.recipe.overrides).toEqual(RECIPE);
    expect(card.training.steps).toBe(3);
    expect(card.metrics.text.n).toBe(6);
    expect(card.metrics.teacher.levels.maze?.['3']?.n).toBe(2);
    expect(card.commands.rebuild).toMatch(/^npx mgsd pretrain -c configs\/tiny-base\.yaml --set .* --out /);
    expect(readFileSync(join(BASE, 'README.md'), 'utf8')).toContain(card.commands.measure);
  });

  it('refuses to write over an existing --out without --force, and over a folder it did not write even with it', async () => {
    const again = await mgsd('pretrain', ...set(RECIPE), '--out', BASE, '--run', join(WORK, 'pretrain-run-2'));
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('already exists');
    const foreign = join(WORK, 'foreign');
    cpSync(join(ROOT, 'configs'), foreign, { recursive: true });
    const forced = await mgsd('pretrain', ...set(RECIPE), '--out', foreign, '--force', '--run', join(WORK, 'pretrain-run-3'));
    expect(forced.exitCode).toBe(2);
    expect(forced.stderr).toContain('is not a base written by `mgsd pretrain`');
    expect(existsSync(join(foreign, 'tiny.yaml'))).toBe(true);
  });

  it('--measure re-measures the base on its recipe\'s test split and prints the card\'s numbers beside', async () => {
    const measured = await mgsd('pretrain', '--measure', BASE);
    expect(measured.exitCode, measured.stderr).toBe(0);
    expect(measured.stdout).toMatch(/manifest sha256 matches the card/);
    const card = readBaseCard(BASE);
    expect(measured.stdout).toContain(`(card: ${(card.metrics.text.macroSuccess * 100).toFixed(1)}%, n 6)`);
  }, 120_000);
});

describe('mgsd run with a pretrained base', () => {
  const RUN = [SHAPE, ...tasks, 'tasks.frozenlake.levels=[3]', `model.path=${BASE}`, 'stages.base.enabled=false', 'stages.sft={steps: 2, batchSize: 4, rehearsalFraction: 0.5}', 'stages.opsd={steps: 2, batchSize: 4, checkpointEvery: 1, rollout: {maxNewTokens: 24}}', 'baselines.visualSft={enabled: false}', 'backend={ranks: 1, separateTeacherWorker: false}', 'eval={maxNewTokens: 24, perception: false, modalityGap: false}', 'eval.validation.maxNewTokens=24', 'eval.validation.every=2', `data.cacheDir=${join(WORK, 'datasets')}`, `reuse.cacheDir=${join(WORK, 'stages')}`];

  it('loads it as the teacher and the student\'s start instead of training a base', async () => {
    const out = join(WORK, 'run');
    const result = await mgsd('run', ...set(RUN), '--out', out);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain(`[base] loading the pretrained base ${BASE}`);
    expect(result.stderr).not.toMatch(/\[base\] done/);
    const state = JSON.parse(readFileSync(join(out, 'run-state.json'), 'utf8')) as { stages: Record<string, unknown> };
    expect(Object.keys(state.stages).sort()).toEqual(['opsd', 'sft']);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { macro: Record<string, number> };
    expect(Object.keys(results.macro)).toContain('base/text');
  }, 240_000);

  it('refuses a base whose files no longer match its card, before any worker starts', async () => {
    const damaged = join(WORK, 'damaged');
    cpSync(BASE, damaged, { recursive: true });
    writeFileSync(join(damaged, 'config.json'), '{}\n');
    const result = await mgsd('run', ...set(RUN.map((o) => (o.startsWith('model.path=') ? `model.path=${damaged}` : o))), '--out', join(WORK, 'run-damaged'));
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('config.json has sha256');
    expect(result.stderr).not.toContain('[backend]');
  });

  it('refuses a base of another shape than model.tiny, naming the key', async () => {
    const result = await mgsd('run', ...set([...RUN, 'model.tiny.dModel=64']), '--out', join(WORK, 'run-shape'));
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('model.tiny.dModel 64 (base: 32)');
  });
});

/**
 * The fair-protocol rules of selection.ts: a baseline's default budget covers OPSD's training
 * samples, the preflight names the keys of a tilted budget, the validation curve is read back from a
 * metrics log, and each trained model's chosen checkpoint reaches `results.json`.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { WorkerHandle } from '../backend/client.js';
import { ConfigError } from '../errors.js';
import type { PipelineContext } from './context.js';
import { loadConfig } from './load.js';
import { Progress } from './progress.js';
import { RunDir } from './run-dir.js';
import { selectedStage, selectionsOf, stageValidation } from './selection.js';
import { baselineSteps, budgetWarnings, opsdSamples } from './budgets.js';
import { validationCurve } from '../eval/validation-curve.js';
import { openStage } from './stage-runtime.js';

const tiny = (overrides: string[] = []) => loadConfig('tiny', overrides).config;

describe('equal budgets', () => {
  it('gives a baseline with steps null at least as many training samples as OPSD', () => {
    const config = tiny(['stages.opsd={steps: 200, batchSize: 64}', 'baselines.visualSft={batchSize: 48}', 'baselines.grpo={enabled: true, batchSize: 32}']);
    expect(opsdSamples(config)).toBe(12_800);
    expect(baselineSteps(config, 'visualSft')).toBe(267); // ceil(12800 / 48)
    expect(baselineSteps(config, 'grpo')).toBe(400);
    expect(budgetWarnings(config)).toEqual([]);
  });

  it('warns, naming the keys, when a baseline sees fewer samples than OPSD', () => {
    const config = tiny(['baselines.visualSft.steps=100', 'baselines.grpo={enabled: true, steps: 1000, batchSize: 32}']);
    const lines = budgetWarnings(config);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/baselines\.visualSft sees 6400 training samples .*stages\.opsd\.steps 200 × stages\.opsd\.batchSize 64.*baselines\.visualSft\.steps=null \(or ≥ 200\)/);
    expect(budgetWarnings(tiny(['baselines.visualSft.steps=100', 'stages.opsd.enabled=false']))).toEqual([]);
  });
});

describe('selection settings', () => {
  it('refuses the old per-OPSD cadence, saying where it moved', () => {
    expect(() => tiny(['stages.opsd.validateEvery=25'])).toThrow(ConfigError);
    expect(() => tiny(['stages.opsd.validateEvery=25'])).toThrow(/eval\.validation\.every=25/);
    expect(tiny(['eval.selection=last']).eval.selection).toBe('last');
    expect(tiny().eval.validation.every).toBe(50);
  });
});

describe('validation curves and the recorded selection', () => {
  it('reads the validation points of one stage, skipping training lines and other stages', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mgsd-selection-')), 'visual-sft.jsonl');
    const rows = [
      { stage: 'visual-sft', step: 1, loss: 2 },
      { stage: 'visual-sft', step: 2, kind: 'validation', val_macro_success: 0.25 },
      { stage: 'opsd', step: 2, kind: 'validation', val_macro_success: 0.9 },
      { stage: 'visual-sft', step: 4, kind: 'validation', val_macro_success: 0.5 },
    ];
    writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    expect(validationCurve(path, 'visual-sft')).toEqual([
      { step: 2, macro: 0.25 },
      { step: 4, macro: 0.5 },
    ]);
    expect(validationCurve(join(path, 'missing'), 'visual-sft')).toEqual([]);
  });

  it('maps each selected stage to its model; stages without a selection are left out', () => {
    const selections = selectionsOf({
      sft: { stepsDone: 400, checkpoint: 'checkpoints/sft/step-000400' },
      opsd: { stepsDone: 200, checkpoint: 'checkpoints/opsd/step-000150', selected: { rule: 'best-val', step: 150, valSuccess: 0.4 } },
      'visual-sft': { stepsDone: 200, checkpoint: 'checkpoints/visual-sft/step-000200', selected: { rule: 'last', step: 200, valSuccess: null } },
    });
    expect(selections).toEqual({
      mgsd: { rule: 'best-val', step: 150, steps: 200, val_success: 0.4 },
      'visual-sft': { rule: 'last', step: 200, steps: 200, val_success: null },
    });
  });
});

describe('selection across a resume', () => {
  /**
   * A visual-SFT stage stopped right after its best checkpoint at step 4 was written but before it
   * was marked best (best.json still at step 2): resuming must mark step 4, as an uninterrupted run
   * did, and select it.
   */
  function stoppedStage(selection: 'best-val' | 'last') {
    const config = tiny([`eval.selection=${selection}`]);
    const run = new RunDir(mkdtempSync(join(tmpdir(), 'mgsd-selection-run-')));
    run.create();
    const services = { run, progress: new Progress({ write: () => undefined, isTty: false }), stop: { requested: false } };
    const lines = [
      { stage: 'visual-sft', step: 2, kind: 'validation', val_macro_success: 0.3 },
      { stage: 'visual-sft', step: 4, kind: 'validation', val_macro_success: 0.5 },
    ];
    const text = lines.map((line) => `${JSON.stringify(line)}\n`).join('');
    mkdirSync(run.checkpoints('visual-sft'), { recursive: true });
    writeFileSync(run.metrics('visual-sft'), text);
    const pointer = (step: number) => ({ stepsDone: step, dir: `checkpoints/visual-sft/step-00000${step}`, logOffsets: { metrics: Buffer.byteLength(text), ledger: 0 }, state: {} });
    run.writeJson(join(run.checkpoints('visual-sft'), 'latest.json'), pointer(4));
    if (selection === 'best-val') run.writeJson(join(run.checkpoints('visual-sft'), 'best.json'), { ...pointer(2), score: 0.3 });
    const context = { config, services, splits: { train: [], val: [], test: [] }, evaluation: { config, run, images: null, test: [], note: () => undefined } } as unknown as PipelineContext;
    const runtime = openStage(services, 'visual-sft', 6, null as unknown as WorkerHandle, 'visual-sft');
    stageValidation(context, 'visual-sft', runtime, { name: 'visual-sft', worker: null as unknown as WorkerHandle, role: 'visual-sft' });
    runtime.close();
    return selectedStage(context, 'visual-sft', runtime, 6);
  }

  it('best-val: redoes the best mark of the resumed checkpoint and selects it with its validation score', () => {
    expect(stoppedStage('best-val')).toEqual({ stepsDone: 6, checkpoint: 'checkpoints/visual-sft/step-000004', selected: { rule: 'best-val', step: 4, valSuccess: 0.5 } });
  });

  it('last: selects the latest checkpoint and marks nothing', () => {
    expect(stoppedStage('last').selected).toEqual({ rule: 'last', step: 4, valSuccess: 0.5 });
  });
});


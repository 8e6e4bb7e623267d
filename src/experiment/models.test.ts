/**
 * From the config to the backend without starting one: worker placement, model specs, `load`
 * requests, the context helpers every stage uses, and `run-state.json` persistence.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { checkpointPath, scheduleOf, workerFor, type PipelineContext } from './context.js';
import { gradingOf, viewOptionsOf } from './run-options.js';
import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';
import { loadRequest, modelSpecOf, placementOf, ranksOf } from './models.js';
import { RunDir } from './run-dir.js';
import { RunState } from './run-state.js';

const tiny = (overrides: string[] = []) => loadConfig('tiny', overrides).config;
const scratchDirs: string[] = [];
afterAll(() => scratchDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('placementOf', () => {
  it('gives the student, the teacher and the baselines a worker each when the teacher is separate', () => {
    const placement = placementOf(tiny(['backend.threadsPerWorker=2', 'backend.ranks=1']));
    expect(placement).toEqual({
      workers: { student: { threads: 2, ranks: 1 }, teacher: { threads: 2, ranks: 1 }, baseline: { threads: 2, ranks: 1 } },
      student: 'student',
      teacher: 'teacher',
      baseline: 'baseline',
      isTeacherSeparate: true,
    });
  });

  it('starts no baseline worker when no baseline is enabled, and runs baselines in the student worker', () => {
    const placement = placementOf(tiny(['baselines.visualSft.enabled=false', 'baselines.grpo.enabled=false']));
    expect(Object.keys(placement.workers)).toEqual(['student', 'teacher']);
    expect(placement.baseline).toBe('student');
  });

  it('puts every role in one main worker (teacher scored in process) without a separate teacher', () => {
    const placement = placementOf(tiny(['backend.separateTeacherWorker=false', 'backend.ranks=1']));
    expect(placement).toEqual({ workers: { main: { threads: 1, ranks: 1 } }, student: 'main', teacher: 'main', baseline: 'main', isTeacherSeparate: false });
  });
});

describe('backend.ranks', () => {
  it('gives the student and the baselines the configured ranks, the teacher one', () => {
    const placement = placementOf(tiny(['backend.ranks=3']));
    expect(placement.workers.student).toEqual({ threads: 1, ranks: 3 });
    expect(placement.workers.baseline?.ranks).toBe(3);
    expect(placement.workers.teacher).toEqual({ threads: 1, ranks: 1 });
  });

  it('reads auto as one rank per core (the tiny preset) and keeps one rank by default elsewhere', () => {
    expect(ranksOf(tiny())).toBe(availableParallelism());
    expect(ranksOf(loadConfig('qwen3-vl-2b').config)).toBe(1);
  });

  it('reads auto as one rank per visible GPU when the model runs on CUDA', () => {
    const qwen = loadConfig('qwen3-vl-2b', ['backend.ranks=auto']).config;
    expect(ranksOf(qwen, { CUDA_VISIBLE_DEVICES: '0,1,3' })).toBe(3);
    expect(() => ranksOf(qwen, { CUDA_VISIBLE_DEVICES: '' })).toThrow(/hides every GPU/);
  });

  it('refuses a rank count that is neither a positive integer nor auto', () => {
    expect(() => tiny(['backend.ranks=0'])).toThrow(ConfigError);
    expect(() => tiny(['backend.ranks=many'])).toThrow(/backend\.ranks/);
  });
});

describe('modelSpecOf and loadRequest', () => {
  it('maps the tiny model config to the wire spec, taking the image size from data.imageSizePx', () => {
    const config = tiny(['model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}', 'data.imageSizePx=48', 'model.path=null']);
    expect(modelSpecOf(config)).toEqual({ kind: 'tiny', config: { d_model: 32, n_layers: 1, n_heads: 2, patch_px: 8, max_seq_len: 160, image_size_px: 48 }, path: null });
  });

  it('sends model.path as the tiny base only when the base stage is off (a base stage trains one from scratch)', () => {
    const loaded = tiny(['model.path=/bases/b1', 'stages.base.enabled=false']);
    expect(modelSpecOf(loaded)).toMatchObject({ kind: 'tiny', path: '/bases/b1' });
    const trained = tiny(['model.path=/bases/b1', 'stages.base.enabled=true']);
    expect(modelSpecOf(trained)).toMatchObject({ kind: 'tiny', path: null });
  });

  it('asks for LoRA only with withLora on an hf model whose SFT enables it', () => {
    const config = loadConfig('qwen3-vl-2b', ['model.path=/models/qwen', 'stages.sft.lora={enabled: true, rank: 4, alpha: 8, dropout: 0}']).config;
    expect(modelSpecOf(config, false)).toEqual({ kind: 'hf', path: '/models/qwen', lora: null, gradient_checkpointing: true, master_weights: 'fp32', cpu_offload: false });
    expect(modelSpecOf(loadConfig('qwen3-vl-2b', ['model.masterWeights=bf16', 'model.teacherCpuOffload=true']).config)).toMatchObject({ master_weights: 'bf16', cpu_offload: true });
    expect(modelSpecOf(config, true)).toMatchObject({ lora: { rank: 4, alpha: 8, dropout: 0 } });
    const off = loadConfig('qwen3-vl-2b', ['stages.sft.lora.enabled=false']).config;
    expect(modelSpecOf(off, true)).toMatchObject({ lora: null });
  });

  it('builds a frozen load without an optimizer, and a trainable one restoring the optimizer only on request', () => {
    const config = tiny(['seed=11']);
    const frozen = loadRequest(config, 'teacher', '/run/checkpoints/base/step-000002', null);
    expect(frozen).toMatchObject({ role: 'teacher', trainable: false, optimizer: null, seed: 11, restore_optimizer: false, checkpoint: '/run/checkpoints/base/step-000002' });
    const trainable = loadRequest(config, 'student', null, { weightDecay: 0.01 }, { seed: 3, restoreOptimizer: true });
    expect(trainable).toMatchObject({ trainable: true, optimizer: { betas: [0.9, 0.999], weight_decay: 0.01, eps: 1e-8 }, seed: 3, restore_optimizer: true, checkpoint: null });
    expect(trainable.device).toBe(config.model.device);
    expect(trainable.dtype).toBe(config.model.dtype);
  });
});

describe('context helpers', () => {
  it('derive view, grading and schedule settings from the config keys they document', () => {
    const config = tiny(['parser.outOfBounds=stay', 'data.imageSizePx=48']);
    expect(viewOptionsOf(config)).toEqual({ profile: 'compact', renderStyle: 'compact', imageSizePx: 48 });
    expect(gradingOf(config)).toEqual({ profile: 'compact', parser: config.parser, rules: { outOfBounds: 'stay' } });
    const stage = config.stages.opsd;
    expect(scheduleOf(stage, 17)).toEqual({ lr: stage.lr, schedule: stage.schedule, warmupSteps: stage.warmupSteps, minLrRatio: stage.minLrRatio, totalSteps: 17 });
  });

  it('resolve run-relative checkpoints against the run root and route role families to their workers', () => {
    const root = mkdtempSync(join(tmpdir(), 'mgsd-context-'));
    scratchDirs.push(root);
    const placement = placementOf(tiny());
    const asked: string[] = [];
    const client = { worker: (name: string) => (asked.push(name), name) };
    const context = { services: { run: new RunDir(root) }, placement, client } as unknown as PipelineContext;
    expect(checkpointPath(context, join('checkpoints', 'sft', 'step-000003'))).toBe(join(root, 'checkpoints', 'sft', 'step-000003'));
    for (const family of ['student', 'teacher', 'baseline'] as const) workerFor(context, family);
    expect(asked).toEqual(['student', 'teacher', 'baseline']);
  });
});

describe('RunState', () => {
  it('persists finished stages atomically to run-state.json and reads them back in a new instance', () => {
    const root = mkdtempSync(join(tmpdir(), 'mgsd-state-'));
    scratchDirs.push(root);
    const run = new RunDir(root);
    const state = new RunState(run);
    expect(state.get('base')).toBeNull();
    state.finish('base', { stepsDone: 2, checkpoint: 'checkpoints/base/step-000002' });
    state.finish('sft', { stepsDone: 3, checkpoint: 'checkpoints/sft/step-000003' });
    expect(JSON.parse(readFileSync(run.state, 'utf8'))).toEqual({
      stages: { base: { stepsDone: 2, checkpoint: 'checkpoints/base/step-000002' }, sft: { stepsDone: 3, checkpoint: 'checkpoints/sft/step-000003' } },
    });
    expect(new RunState(run).get('sft')).toEqual({ stepsDone: 3, checkpoint: 'checkpoints/sft/step-000003' });
    expect(new RunState(run).get('opsd')).toBeNull();
  });
});

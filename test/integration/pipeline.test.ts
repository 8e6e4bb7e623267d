/**
 * `mgsd run` end to end, as a user runs it (the built CLI, real Python workers), on a miniature
 * config: every stage runs, the report is written, and a run stopped with Ctrl-C and later killed
 * with SIGKILL mid-OPSD resumes to exactly the results, metrics and ledger of an uninterrupted run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-pipeline-'));

/** A miniature experiment: every stage and baseline, a few steps each. */
const MINI = [
  'tasks.frozenlake.levels=[3]',
  'tasks.maze.levels=[3]',
  'tasks.minibehaviour.levels=[5]',
  ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 48, val: 6, test: 10}`),
  'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}',
  'model.path=null', // a base of this shape is trained, not the shipped one loaded
  'stages.base={enabled: true, steps: 6, batchSize: 8}',
  'stages.sft={steps: 4, batchSize: 8}',
  'stages.opsd={steps: 6, batchSize: 8, checkpointEvery: 2, estimator: full, rollout: {maxNewTokens: 40}}',
  'baselines.visualSft={enabled: true, steps: 3, batchSize: 8}',
  'baselines.grpo={enabled: true, steps: 2, batchSize: 8, groupSize: 2, rollout: {maxNewTokens: 40}}',
  'eval.maxNewTokens=40',
  'eval.validation.maxNewTokens=40',
  'eval.validation.every=3',
  // A few puzzles of two published sets: resume and reuse must reproduce the out-of-distribution rows too.
  'eval.outOfDistribution=[{kind: vsp-frozenlake, file: benchmarks/vsp-frozenlake.jsonl, levels: [3], limitPerLevel: 3}, {kind: vprl-minibehaviour, file: benchmarks/vprl-minibehaviour-test.jsonl, levels: [5], limitPerLevel: 3}]',
  `data.cacheDir=${join(WORK, 'datasets')}`,
  `reuse.cacheDir=${join(WORK, 'stages')}`,
].flatMap((override) => ['--set', override]);

interface Exit {
  code: number | null;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const done = new Promise<Exit>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, done };
}

/** Resolves once `path` holds at least `lines` lines (polls; the run writes it). */
async function waitForLines(path: string, lines: number, exit: Promise<Exit>): Promise<void> {
  let finished = false;
  void exit.then(() => (finished = true));
  while (!finished) {
    if (existsSync(path) && readFileSync(path, 'utf8').split('\n').filter(Boolean).length >= lines) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the run exited before ${path} had ${lines} lines`);
}

/** Every worker a run ever started (pids from the worker logs) has exited. */
async function expectNoLiveWorkers(logDir: string): Promise<void> {
  const pids = readdirSync(logDir).flatMap((file) =>
    [...readFileSync(join(logDir, file), 'utf8').matchAll(/handshake done: pid (\d+)/g)].map((match) => Number(match[1])),
  );
  expect(pids.length).toBeGreaterThan(0);
  const isAlive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let attempt = 0; attempt < 100 && pids.some(isAlive); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(pids.filter(isAlive)).toEqual([]);
}

/** A log without its wall-clock fields. */
function stableLines(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(Object.entries(JSON.parse(line) as Record<string, unknown>).filter(([key]) => !key.endsWith('_seconds'))));
}

function stableResults(run: string): unknown {
  const { wall_seconds: _w, cpu_seconds: _c, ...rest } = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as Record<string, unknown>;
  return rest;
}

describe('mgsd run (miniature config)', () => {
  const reference = join(WORK, 'reference');

  beforeAll(async () => {
    const { done } = start(['run', '--out', reference, ...MINI]);
    const exit = await done;
    if (exit.code !== 0) throw new Error(`reference run failed (${exit.code}):\n${exit.stderr}`);
  }, 300_000);

  it('runs every stage and writes results, report and checkpoints', () => {
    const results = JSON.parse(readFileSync(join(reference, 'results.json'), 'utf8')) as { macro: Record<string, number>; rows: unknown[] };
    expect(Object.keys(results.macro).sort()).toEqual(
      ['base/image', 'base/text', 'grpo/image', 'mgsd/image', 'mgsd/text', 'sft/image', 'sft/text', 'visual-sft/image'].sort(),
    );
    expect(results.rows).toHaveLength(8 * 3);
    // Every image model and base/text on each published set, in rows of their own.
    const ood = (results as unknown as { out_of_distribution: { rows: unknown[]; macro: Record<string, number> } }).out_of_distribution;
    expect(Object.keys(ood.macro).sort()).toEqual(['base/image', 'base/text', 'grpo/image', 'mgsd/image', 'sft/image', 'visual-sft/image'].sort());
    expect(ood.rows).toHaveLength(6 * 2);
    for (const file of ['report.md', 'report.html', 'manifest.json', 'config.resolved.json', 'ledger/opsd.jsonl', 'checkpoints/opsd/best.json']) {
      expect(existsSync(join(reference, file)), file).toBe(true);
    }
    expect(readFileSync(join(reference, 'report.html'), 'utf8')).toContain('<svg');
    const opsd = stableLines(join(reference, 'metrics', 'opsd.jsonl'));
    expect(opsd.filter((line) => (line as { kind?: string }).kind === 'validation')).toHaveLength(2);
  });

  it('validates every trained model alike and evaluates its best-validation checkpoint, recording the chosen step', () => {
    const results = JSON.parse(readFileSync(join(reference, 'results.json'), 'utf8')) as { selection: Record<string, { rule: string; step: number; steps: number; val_success: number | null }> };
    expect(Object.keys(results.selection).sort()).toEqual(['grpo', 'mgsd', 'visual-sft']);
    const stages: Record<string, { stage: string; steps: number; validations: number[] }> = {
      mgsd: { stage: 'opsd', steps: 6, validations: [3, 6] },
      'visual-sft': { stage: 'visual-sft', steps: 3, validations: [3] },
      grpo: { stage: 'grpo', steps: 2, validations: [2] },
    };
    for (const [model, { stage, steps, validations }] of Object.entries(stages)) {
      const curve = (stableLines(join(reference, 'metrics', `${stage}.jsonl`)) as Array<{ kind?: string; step: number; val_macro_success: number }>).filter(
        (line) => line.kind === 'validation',
      );
      expect(curve.map((point) => point.step), model).toEqual(validations);
      // best-val: the first step with the highest validation score, also the stage's best.json.
      const best = curve.reduce((a, b) => (b.val_macro_success > a.val_macro_success ? b : a));
      expect(results.selection[model], model).toEqual({ rule: 'best-val', step: best.step, steps, val_success: best.val_macro_success });
      const pointer = JSON.parse(readFileSync(join(reference, 'checkpoints', stage, 'best.json'), 'utf8')) as { stepsDone: number };
      expect(pointer.stepsDone, model).toBe(best.step);
    }
    expect(readFileSync(join(reference, 'report.md'), 'utf8')).toMatch(/best-val/);
  });

  it('logs the update monitor on every training step and exports the trained model in its hub layout', async () => {
    for (const stage of ['base', 'sft', 'opsd']) {
      const steps = stableLines(join(reference, 'metrics', `${stage}.jsonl`)).filter((line) => (line as { kind?: string }).kind === undefined);
      for (const line of steps as Array<Record<string, number>>) {
        expect(line.update_changed_fraction, stage).toBeGreaterThan(0.5);
        expect(line.update_rel_norm, stage).toBeGreaterThan(0);
      }
    }
    const out = join(WORK, 'export-mgsd');
    const { done } = start(['export', '--run', reference, '--model', 'mgsd', '--out', out]);
    const exit = await done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    const again = await start(['export', '--run', reference, '--model', 'mgsd', '--out', out]).done;
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  }, 120_000);

  it('resumes after Ctrl-C and after kill -9 mid-OPSD to the same results, metrics and ledger', async () => {
    const run = join(WORK, 'interrupted');
    const metrics = join(run, 'metrics', 'opsd.jsonl');
    // --no-reuse: the reference published every stage; this run must compute (and be interrupted in) them.
    const first = start(['run', '--out', run, '--no-reuse', ...MINI]);
    await waitForLines(metrics, 1, first.done);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain(`npx mgsd run --resume ${run}`);

    const second = start(['run', '--resume', run, '--no-reuse']);
    const before = stableLines(metrics).length;
    await waitForLines(metrics, before + 2, second.done);
    second.child.kill('SIGKILL');
    await second.done;
    expect(existsSync(join(run, 'results.json')), 'the kill must land before the run finishes').toBe(false);
    await expectNoLiveWorkers(join(run, 'logs'));

    const third = start(['run', '--resume', run, '--no-reuse']);
    const finished = await third.done;
    expect(finished.code, finished.stderr).toBe(0);
    expect(stableResults(run)).toEqual(stableResults(reference));
    for (const stage of ['opsd', 'sft', 'visual-sft', 'grpo']) {
      expect(stableLines(join(run, 'metrics', `${stage}.jsonl`)), stage).toEqual(stableLines(join(reference, 'metrics', `${stage}.jsonl`)));
    }
    expect(stableLines(join(run, 'ledger', 'opsd.jsonl'))).toEqual(stableLines(join(reference, 'ledger', 'opsd.jsonl')));
  }, 600_000);

  it('reuses every stage an OPSD change leaves alone, and an identical rerun reproduces the results', async () => {
    const changed = join(WORK, 'changed-opsd');
    const exit = await start(['run', '--out', changed, ...MINI, '--set', 'stages.opsd.clip.low=0.1']).done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toContain('[run] changed from preset');
    expect(exit.stderr).toMatch(/stages\.opsd\.clip\.low=0\.1/);
    const state = JSON.parse(readFileSync(join(changed, 'run-state.json'), 'utf8')).stages as Record<string, { reusedFrom?: { run: string } }>;
    for (const stage of ['base', 'sft', 'visual-sft', 'grpo']) expect(state[stage]?.reusedFrom?.run, stage).toBe(reference);
    expect(state.opsd?.reusedFrom).toBeUndefined();
    expect(exit.stderr).toMatch(/\[eval\] mgsd\/image: macro success/);
    expect(exit.stderr).not.toMatch(/\[eval\] sft\/image: macro success/);
    const manifest = JSON.parse(readFileSync(join(changed, 'manifest.json'), 'utf8')) as { stages_reused: Record<string, unknown>; changed_from_preset: Array<{ key: string }> };
    expect(Object.keys(manifest.stages_reused).sort()).toEqual(['base', 'grpo', 'sft', 'visual-sft']);
    expect(readFileSync(join(changed, 'report.md'), 'utf8')).toContain(`reused from ${reference}`);

    const again = join(WORK, 'again');
    const rerun = await start(['run', '--out', again, ...MINI]).done;
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toMatch(/\] done in/); // no stage trained
    expect(stableResults(again)).toEqual(stableResults(reference));
  }, 300_000);

  it('stops a stage whose loss becomes NaN with a clear error, keeping the last good checkpoint', async () => {
    const run = join(WORK, 'diverged');
    const { done } = start(['run', '--out', run, ...MINI, '--set', 'stages.sft.lr=1e30']);
    const exit = await done;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/error: sft step \d+: the loss or gradient became NaN\/inf; the stage stopped/);
    expect(exit.stderr).toMatch(/hint: The last good checkpoint \(after \d+ steps\) is kept/);
    expect(JSON.parse(readFileSync(join(run, 'run-state.json'), 'utf8')).stages).toHaveProperty('base');
  }, 180_000);

  // On a GPU machine (MGSD_GPU=1) the preset would start for real, so this check needs a CPU-only one.
  it.skipIf(process.env.MGSD_GPU === '1')('refuses a GPU preset on a machine without CUDA before doing any work', async () => {
    const cache = join(WORK, 'no-cuda-datasets');
    const run = join(WORK, 'no-cuda');
    const { done } = start(['run', '-c', 'qwen3-vl-2b', '--out', run, '--set', `data.cacheDir=${cache}`]);
    const exit = await done;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/model\.device is "cuda" but worker main sees no CUDA device/);
    expect(exit.stderr).toMatch(/hint: Run on a machine with a GPU/);
    expect(existsSync(cache), 'no dataset may be built').toBe(false);
  }, 120_000);
});

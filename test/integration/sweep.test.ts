/**
 * `mgsd sweep` end to end (the built CLI, real Python workers) on a miniature config: a 2-value grid
 * over the OPSD estimator × 2 seeds, killed with SIGKILL during its second run, continued by the same
 * command (the finished run skipped, the interrupted one resumed), sharing base and SFT through the
 * stage cache, and compared with mean, sd and a paired p-value per row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-sweep-'));
const OUT = join(WORK, 'sweep');

const ARGS = [
  'sweep',
  '-c',
  'tiny',
  '--out',
  OUT,
  '--grid',
  'stages.opsd.estimator=full,sampled',
  '--seeds',
  '0,1',
  ...[
    'tasks.frozenlake.levels=[3]',
    ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 32, val: 4, test: 12}`),
    'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 160}',
    'model.path=null', // a base of this shape is trained, not the shipped one loaded
    'stages.base={enabled: true, steps: 4, batchSize: 8}',
    'stages.sft={steps: 2, batchSize: 8}',
    'stages.opsd={steps: 4, batchSize: 8, checkpointEvery: 1, rollout: {maxNewTokens: 40}}',
    'baselines.visualSft.enabled=false',
    'eval={maxNewTokens: 40, perception: false, modalityGap: false}',
    'eval.validation.maxNewTokens=40',
    'eval.validation.every=2',
    'eval.outOfDistribution=[]',
    `data.cacheDir=${join(WORK, 'datasets')}`,
    `reuse.cacheDir=${join(WORK, 'stages')}`,
  ].flatMap((override) => ['--set', override]),
];

function start(): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...ARGS], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr }))) };
}

describe('mgsd sweep (miniature grid × seeds)', () => {
  it('completes, resumes after a kill, and compares with mean, sd and a paired p-value per row', async () => {
    const first = start();
    const metrics = join(OUT, 'estimator=full-seed1', 'metrics', 'opsd.jsonl');
    let exited = false;
    void first.done.then(() => (exited = true));
    while (!exited && !(existsSync(metrics) && readFileSync(metrics, 'utf8').includes('\n'))) await new Promise((resolve) => setTimeout(resolve, 50));
    first.child.kill('SIGKILL');
    await first.done;
    expect(existsSync(join(OUT, 'estimator=full-seed0', 'results.json'))).toBe(true);
    expect(existsSync(join(OUT, 'estimator=full-seed1', 'results.json')), 'the kill must land inside the second run').toBe(false);

    const second = await start().done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('[sweep 1/4] estimator=full-seed0: finished earlier, skipped');
    expect(second.stderr).toContain('[sweep 2/4] estimator=full-seed1: resuming');
    // The sampled-estimator runs share base and SFT with the full-estimator runs of their seed.
    expect(second.stderr).toMatch(/\[base\] reused \(4 steps\) from .*estimator=full-seed0/);
    expect(second.stderr).toMatch(/\[sft\] reused \(2 steps\) from .*estimator=full-seed1/);

    const comparison = JSON.parse(readFileSync(join(OUT, 'compare.json'), 'utf8')) as {
      grid_keys: string[];
      rows: Array<{ variant: string; model_input: string; task: string; seeds: number[]; mean: number; sd: number; test: { mcnemar_p: number; bootstrap_p: number } | null; note: string | null }>;
    };
    expect(comparison.grid_keys).toEqual(['stages.opsd.estimator']);
    const sampled = comparison.rows.filter((row) => row.variant === 'stages.opsd.estimator=sampled' && row.model_input === 'mgsd/image');
    expect(sampled.map((row) => row.task)).toEqual(['frozenlake', 'maze', 'minibehaviour', 'macro']);
    for (const row of sampled) {
      expect(row.seeds).toEqual([0, 1]);
      expect(Number.isFinite(row.mean) && Number.isFinite(row.sd)).toBe(true);
      expect(row.test!.mcnemar_p).toBeGreaterThan(0);
      expect(row.test!.mcnemar_p).toBeLessThanOrEqual(1);
      expect(row.test!.bootstrap_p).toBeLessThanOrEqual(1);
    }
    const markdown = readFileSync(join(OUT, 'compare.md'), 'utf8');
    expect(markdown).toMatch(/\| stages\.opsd\.estimator \| seeds \| frozenlake \| maze \| minibehaviour \| macro \|/);
    expect(markdown).toMatch(/\| sampled \| 2 \| \d+\.\d ± \d+\.\d \(p [\d.<]+\)/);
    expect(existsSync(join(OUT, 'compare.html'))).toBe(true);
    expect(readFileSync(join(OUT, 'compare-macro.svg'), 'utf8')).toContain('macro success (% of test puzzles)');
  }, 240_000);
});

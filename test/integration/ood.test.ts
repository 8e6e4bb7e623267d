/**
 * Out-of-distribution rows end to end: a miniature `mgsd run` (the built CLI, real Python workers)
 * with two published sets cut to a few puzzles per level. The rows land in `results.json` apart
 * from the in-distribution macro, in `report.md` and on the terminal; a resumed run recomputes
 * exactly the one evaluation whose files were removed, to the same numbers.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';

import { miniOverrides } from '../helpers/tiny-setup.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-ood-'));
const RUN = join(WORK, 'run');

const SETS = [
  '{kind: vsp-frozenlake, file: benchmarks/vsp-frozenlake.jsonl, levels: [3], limitPerLevel: 4}',
  '{kind: vprl-minibehaviour, file: benchmarks/vprl-minibehaviour-test.jsonl, levels: [5], limitPerLevel: 3}',
];
const ARGS = [...miniOverrides(join(WORK, 'datasets')), `eval.outOfDistribution=[${SETS.join(', ')}]`].flatMap((set) => ['--set', set]);

interface OodResultsJson {
  macro: Record<string, number>;
  rows: Array<{ task: string }>;
  gap_closed: number | null;
  out_of_distribution: {
    sets: Array<{ name: string; kind: string; levels: number[] }>;
    rows: Array<{ model: string; input: string; set: string; task: string; n: number; success: number; success_ci: [number, number]; levels: Array<{ level: number; n: number }> }>;
    macro: Record<string, number>;
  };
}

async function mgsd(...args: string[]) {
  const result = await execa(process.execPath, [CLI, ...args], { cwd: ROOT, reject: false, timeout: 120_000 });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function stableResults(): unknown {
  const { wall_seconds: _w, cpu_seconds: _c, ...rest } = JSON.parse(readFileSync(join(RUN, 'results.json'), 'utf8')) as Record<string, unknown>;
  return rest;
}

describe('out-of-distribution sets in mgsd run', () => {
  let stdout = '';
  let stderr = '';
  beforeAll(async () => {
    const result = await mgsd('run', '--out', RUN, '--no-reuse', ...ARGS);
    if (result.exitCode !== 0) throw new Error(`the miniature run failed (${result.exitCode}):\n${result.stderr}`);
    ({ stdout, stderr } = result);
  }, 120_000);

  it('writes one row per model, input and set to results.json, apart from the in-distribution macro', () => {
    const results = JSON.parse(readFileSync(join(RUN, 'results.json'), 'utf8')) as OodResultsJson;
    const ood = results.out_of_distribution;
    expect(ood.sets).toEqual([
      { name: 'vsp-frozenlake', kind: 'vsp-frozenlake', levels: [3] },
      { name: 'vprl-minibehaviour-test', kind: 'vprl-minibehaviour', levels: [5] },
    ]);
    // Image input for every evaluated model; text only for base (the upper bound).
    expect(Object.keys(ood.macro).sort()).toEqual(['base/image', 'base/text', 'mgsd/image', 'sft/image']);
    expect(ood.rows.map((row) => `${row.model}/${row.input} ${row.set} ${row.task} n${row.n}`).sort()).toEqual(
      ['base/image', 'base/text', 'mgsd/image', 'sft/image']
        .flatMap((key) => [`${key} vprl-minibehaviour-test minibehaviour n3`, `${key} vsp-frozenlake frozenlake n4`])
        .sort(),
    );
    for (const row of ood.rows) {
      expect(row.success_ci[0]).toBeLessThanOrEqual(row.success);
      expect(row.success_ci[1]).toBeGreaterThanOrEqual(row.success);
      expect(row.levels.map((level) => level.n)).toEqual([row.n]);
    }
    // The macro over sets is the mean of the per-set success; the in-distribution numbers hold only the generated test split.
    const perSet = ood.rows.filter((row) => row.model === 'sft' && row.input === 'image').map((row) => row.success);
    expect(ood.macro['sft/image']).toBeCloseTo((perSet[0]! + perSet[1]!) / 2, 4);
    expect(results.rows).toHaveLength(6 * 3); // base, sft and mgsd, each on image and text, over the 3 tasks
    expect(Object.keys(results.macro).some((key) => key.includes('ood'))).toBe(false);
  });

  it('shows the rows in report.md and report.html, and the macro on the terminal', () => {
    const markdown = readFileSync(join(RUN, 'report.md'), 'utf8');
    expect(markdown).toContain('## Out-of-distribution: published test sets');
    expect(markdown).toMatch(/\| model \(input\) \| vsp-frozenlake \(L3\) \| vprl-minibehaviour-test \(L5\) \| macro \|/);
    expect(markdown).toMatch(/\| base \(text\) \| vprl-minibehaviour-test \| minibehaviour \| 3 \| /);
    expect(markdown).toMatch(/Out of distribution \(published sets: vsp-frozenlake L3; vprl-minibehaviour-test L5\)/);
    expect(readFileSync(join(RUN, 'report.html'), 'utf8')).toContain('Out-of-distribution detail');
    expect(stdout).toMatch(/^out-of-distribution macro success \(vsp-frozenlake, vprl-minibehaviour-test\): base\/image \d+\.\d%/m);
    expect(stderr).toMatch(/\[eval\] mgsd\/image on ood-vsp-frozenlake: macro success/);
  });

  it('resumes a run that lost one set evaluation by redoing exactly that one, to the same results', async () => {
    const before = stableResults();
    const removed = ['mgsd-ood-vsp-frozenlake-image.jsonl', 'mgsd-ood-vsp-frozenlake-image.summary.json'].map((file) => join(RUN, 'eval', file));
    for (const file of [...removed, join(RUN, 'results.json')]) rmSync(file);
    const result = await mgsd('run', '--resume', RUN, '--no-reuse');
    expect(result.exitCode, result.stderr).toBe(0);
    const evaluated = [...result.stderr.matchAll(/\[eval\] (\S+)(?: on (\S+))?: macro success/g)].map((match) => `${match[1]} ${match[2] ?? 'test'}`);
    expect(evaluated).toEqual(['mgsd/image ood-vsp-frozenlake']);
    for (const file of removed) expect(existsSync(file), file).toBe(true);
    expect(stableResults()).toEqual(before);
  }, 120_000);
});

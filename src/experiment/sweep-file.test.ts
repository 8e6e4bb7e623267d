/**
 * Sweep files: named variants become a first axis over `name`, each run gets the sweep's, its
 * variant's and its seed's overrides, and a bad file is refused naming the key. The shipped
 * protocol file must load against the tiny preset in every variant.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';
import { budgetWarnings } from './budgets.js';
import { planSweep, runOverrides } from './sweep.js';
import { readSweepFile } from './sweep-file.js';

const PROTOCOL = fileURLToPath(new URL('../../configs/sweeps/tiny-protocol.yaml', import.meta.url));

function writeFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mgsd-sweep-file-')), 'sweep.yaml');
  writeFileSync(path, text);
  return path;
}

describe('sweep files', () => {
  it('plans variants × seeds, named after the variant, with every override in order', () => {
    const plan = planSweep('tiny', ['eval.validation.every=10'], [], [0, 1], { a: ['stages.opsd.estimator=sampled'], b: [] });
    expect(plan.grid).toEqual([{ key: 'name', values: ['a', 'b'] }]);
    expect(plan.runs.map((run) => run.name)).toEqual(['a-seed0', 'a-seed1', 'b-seed0', 'b-seed1']);
    expect(runOverrides(plan, plan.runs[1]!)).toEqual(['eval.validation.every=10', 'stages.opsd.estimator=sampled', 'name=a', 'seed=1']);
    // A grid still multiplies: variants first.
    const both = planSweep('tiny', [], [{ key: 'stages.opsd.lr', values: ['1e-3', '2e-3'] }], [0], { a: [] });
    expect(both.runs.map((run) => run.name)).toEqual(['a-lr=1e-3-seed0', 'a-lr=2e-3-seed0']);
  });

  it('refuses a file without variants, a bad variant name, and a variant that sets name', () => {
    expect(() => readSweepFile(writeFile('config: tiny\nseeds: [0]\nvariants: {}\n'))).toThrow(/at least one variant/);
    expect(() => readSweepFile(writeFile('config: tiny\nseeds: [0]\nvariants: {"a b": []}\n'))).toThrow(ConfigError);
    expect(() => readSweepFile(writeFile('config: tiny\nseeds: [0]\nvariants: {a: [name=x]}\n'))).toThrow(/carries the variant's name/);
    expect(() => readSweepFile(writeFile('config: tiny\nseeds: [0]\nvariants: {a: []}\ngrid: 3\n'))).toThrow(ConfigError);
  });

  it('ships a protocol whose variants load, give no baseline fewer samples than OPSD, and select alike', () => {
    const file = readSweepFile(PROTOCOL);
    expect(file.seeds.length).toBeGreaterThanOrEqual(3);
    const plan = planSweep(file.config, file.set, [], file.seeds, file.variants);
    const configs = Object.fromEntries(plan.runs.filter((run) => run.seed === file.seeds[0]).map((run) => [run.assignment.name, loadConfig(file.config, runOverrides(plan, run)).config]));
    expect(Object.keys(configs)).toEqual(['mgsd', 'sampled-t1', 'sft-full']);
    expect(configs.mgsd!.stages.opsd).toMatchObject({ estimator: 'full', rollout: { temperature: 0.7 } });
    expect(configs.mgsd!.baselines).toMatchObject({ visualSft: { enabled: true, target: 'answer' }, grpo: { enabled: true } });
    expect(configs['sampled-t1']!.stages.opsd).toMatchObject({ estimator: 'sampled', rollout: { temperature: 1 } });
    expect(configs['sft-full']!.baselines.visualSft.target).toBe('full');
    for (const config of Object.values(configs)) {
      expect(config.eval.selection).toBe('best-val');
      expect(budgetWarnings(config)).toEqual([]);
    }
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError } from '../errors.js';
import { applyOverride, listPresets, loadConfig, validateConfig, validateWrittenConfig } from './load.js';
import { assertRunName } from './run.js';

function writeTemp(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-config-'));
  const path = join(dir, 'exp.yaml');
  writeFileSync(path, content);
  return path;
}

describe('loadConfig', () => {
  it('loads every bundled preset', () => {
    const presets = listPresets();
    expect(presets).toEqual(expect.arrayContaining(['tiny', 'qwen3-vl-2b', 'qwen3-vl-4b', 'qwen3-vl-8b']));
    for (const name of presets) expect(loadConfig(name).config.name).toBe(name);
  });

  it('fills defaults and applies --set overrides, the top-level seed included', () => {
    const { config } = loadConfig('tiny', ['seed=7', 'stages.opsd.steps=12', 'tasks.maze.levels=[3]']);
    expect(config.seed).toBe(7);
    expect(config.stages.opsd.steps).toBe(12);
    expect(config.tasks.maze?.levels).toEqual([3]);
    expect(config.stages.opsd.clip).toEqual({ low: 0.2, high: 0.3, dual: 3 });
  });

  it('names the key path, the bad value and what is allowed', () => {
    const path = writeTemp('tasks: { maze: { levels: [3] } }\nstages: { opsd: { estimator: exact, stepz: 3 } }\n');
    let error: unknown;
    try {
      loadConfig(path);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toMatch(/stages\.opsd\.estimator: .*"sampled".*"topk".*"full".*\(got "exact"\)/);
    expect(message).toContain('stages.opsd: Unrecognized key: "stepz"');
  });

  it('rejects cross-field contradictions at load time', () => {
    expect(() => loadConfig('tiny', ['model.kind=hf', 'model.path=null'])).toThrow(/model\.path: model\.kind "hf" needs model\.path/);
  });

  it('rejects malformed overrides and unknown presets with a hint', () => {
    expect(() => loadConfig('tiny', ['seed'])).toThrow(/expected key\.path=value/);
    expect(() => loadConfig('no-such-preset')).toThrow(/config "no-such-preset" not found/);
  });
});

describe('--set safety', () => {
  it.each(['__proto__.polluted=1', 'constructor.prototype.polluted=1', 'stages.prototype=1', 'a.__proto__=1'])(
    'refuses %s as a usage error and leaves Object.prototype alone',
    (override) => {
      const target: Record<string, unknown> = {};
      expect(() => applyOverride(target, override)).toThrow(ConfigError);
      expect(() => applyOverride(target, override)).toThrow(/is not a config key/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('reports a value that is not YAML as a usage error naming the override, without the raw parser dump', () => {
    const attempt = () => applyOverride({}, 'seed=[1,2');
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/^--set "seed=\[1,2": the value is not valid YAML \([^\n]*\)$/);
  });
});

describe('run names', () => {
  it.each(['../../x', 'a/b', '..', '.hidden', 'a\\b', ''])('refuses %j, which would leave runs/', (name) => {
    expect(() => assertRunName(name)).toThrow(/cannot name a run folder under runs\//);
  });
  it('accepts a plain name', () => {
    expect(assertRunName('tiny-ablation_2.v1')).toBe('tiny-ablation_2.v1');
  });
});

describe('configs mgsd wrote earlier', () => {
  const written = (): Record<string, unknown> => {
    const config = structuredClone(loadConfig('tiny', ['model.path=null', 'stages.base.enabled=true']).config) as unknown as Record<string, any>;
    delete config.eval.validation;
    config.stages.opsd.validateEvery = 25;
    return config;
  };

  it('carries a moved key to its new place in a written config (a run resolved by an earlier mgsd)', () => {
    const config = validateWrittenConfig(written(), 'runs/old/config.resolved.json');
    expect(config.eval.validation.every).toBe(25);
    expect(config.stages.opsd).not.toHaveProperty('validateEvery');
  });

  it('still refuses the moved key in a config a person wrote, naming the new key', () => {
    expect(() => validateConfig(written(), 'mine.yaml')).toThrow(/validateEvery: moved: set eval\.validation\.every=25/);
  });
});

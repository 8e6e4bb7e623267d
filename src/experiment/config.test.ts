/**
 * The config schema's bounds and cross-field rules: absurd values are refused at load time,
 * naming the key (never a crash later); every key is documented (docs/configuration.md is
 * generated from the descriptions, so a key without one would be an undocumented key).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { ConfigError } from '../errors.js';
import { ExperimentConfigSchema } from './config.js';
import { loadConfig } from './load.js';

function refusal(overrides: string[]): string {
  try {
    loadConfig('tiny', overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${overrides.join(' ')}`);
}

describe('config bounds', () => {
  it.each([
    ['data.imageSizePx=1000000', /data\.imageSizePx: .*1024/],
    ['data.imageSizePx=4', /data\.imageSizePx: .*16/],
    ['model.tiny.maxSeqLen=8', /model\.tiny\.maxSeqLen: must be at least 64/],
    ['stages.opsd.batchSize=100000', /stages\.opsd\.batchSize: .*4096/],
    ['stages.sft.steps=1e9', /stages\.sft\.steps: .*1000000/],
    ['backend.requestTimeoutMs=5', /backend\.requestTimeoutMs: .*1000/],
    ['baselines.grpo.groupSize=1', /baselines\.grpo\.groupSize: .*2/],
  ])('%s is refused naming the key and the bound', (override, message) => {
    expect(refusal([override])).toMatch(message);
  });

  it('the bundled tiny preset fits', () => {
    expect(loadConfig('tiny').config.model.tiny.maxSeqLen).toBeGreaterThan(0);
  });
});

describe('config descriptions', () => {
  it('every key has a description (docs/configuration.md is generated from them)', () => {
    const root = z.toJSONSchema(ExperimentConfigSchema, { io: 'input' }) as Record<string, unknown>;
    const missing: string[] = [];
    const walk = (schema: Record<string, unknown>, path: string): void => {
      for (const [key, sub] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        const here = path ? `${path}.${key}` : key;
        if (!sub.description) missing.push(here);
        walk(sub, here);
        const items = sub.items as Record<string, unknown> | undefined;
        if (items) walk(items, `${here}[]`);
      }
    };
    walk(root, '');
    expect(missing).toEqual([]);
  });
});

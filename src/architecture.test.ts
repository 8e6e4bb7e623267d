/**
 * Fails when an import crosses the layering of STYLE.md §2:
 * cli → experiment → {compare, train} → eval → rollout → {data, backend} → envs (see ALLOWED); `errors.ts`,
 * `chat.ts`, `fs-atomic.ts` and `names.ts` are leaves everyone may import; `envs/` and `backend/` import no other layer.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));
const LEAVES = new Set(['errors.ts', 'chat.ts', 'fs-atomic.ts', 'names.ts']);

/** Layer → the layers it may import (besides itself and the leaves). */
const ALLOWED: Record<string, string[]> = {
  envs: [],
  backend: [],
  data: ['envs'],
  rollout: ['envs', 'backend', 'data'],
  eval: ['rollout', 'backend', 'envs', 'data'],
  train: ['rollout', 'backend', 'envs', 'data', 'eval'],
  compare: ['eval', 'envs'],
  trackers: ['backend'],
  experiment: ['data', 'train', 'eval', 'rollout', 'backend', 'envs', 'compare', 'trackers'],
  cli: ['experiment', 'data', 'train', 'eval', 'rollout', 'backend', 'envs', 'compare', 'trackers'],
  bench: ['experiment', 'data', 'train', 'eval', 'rollout', 'backend', 'envs'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

function layerOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? rel.split('/')[0]! : rel;
}

describe('module layering', () => {
  it('no import crosses the allowed directions', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      const allowed = ALLOWED[from];
      if (allowed === undefined) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = resolve(dirname(file), match[1]!).replace(/\.js$/, '.ts');
        const to = layerOf(target);
        if (to === from || LEAVES.has(to) || allowed.includes(to)) continue;
        violations.push(`${relative(SRC, file)} (${from}) imports ${match[1]} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });
});

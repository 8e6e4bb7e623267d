/**
 * The TypeScript op table against `fixtures/golden/protocol.json`, which the Python side
 * writes from its own table (`protocol.describe_schemas`): same version, same ops, same argument
 * names with the same required flags, same request tensors. Either side drifting fails a test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

import { PROJECT_ROOT } from './interpreter.js';
import { ARGS_SCHEMAS, OP, PROTOCOL_VERSION, REQUEST_TENSORS } from './protocol.js';

const GenerateArgsSchema = ARGS_SCHEMAS.generate;
const ScoreArgsSchema = ARGS_SCHEMAS.score;

interface Described {
  version: number;
  ops: Record<string, { args: Record<string, boolean> | null; tensors: Record<string, { dtype: string; ranks: number[]; required: boolean }> | null }>;
}

const described = JSON.parse(readFileSync(join(PROJECT_ROOT, 'fixtures', 'golden', 'protocol.json'), 'utf8')) as Described;

/** Argument name → required, from an object schema or a union of them (required in every branch). */
function argKeys(schema: z.ZodType): Record<string, boolean> | null {
  const def = schema._zod.def as { type: string; shape?: Record<string, z.ZodType>; options?: z.ZodType[] };
  if (def.type === 'object' && def.shape) {
    return Object.fromEntries(Object.entries(def.shape).map(([key, value]) => [key, !value.safeParse(undefined).success]));
  }
  if (def.type === 'union' && def.options) {
    const branches = def.options.map((option) => argKeys(option)!);
    const keys = [...new Set(branches.flatMap((branch) => Object.keys(branch)))];
    return Object.fromEntries(keys.map((key) => [key, branches.every((branch) => branch[key] === true)]));
  }
  return null; // a record: any arguments (echo)
}

describe('protocol mirrors', () => {
  it('has the same version and ops as the Python side', () => {
    expect(PROTOCOL_VERSION).toBe(described.version);
    expect(Object.values(OP).sort()).toEqual(Object.keys(described.ops).sort());
  });

  it.each(Object.values(OP))('%s: same argument names and required flags', (op) => {
    const mine = argKeys(ARGS_SCHEMAS[op]);
    const theirs = described.ops[op]!.args;
    expect(mine === null ? null : Object.keys(mine).sort()).toEqual(theirs === null ? null : Object.keys(theirs).sort());
    if (mine && theirs) expect(mine).toEqual(theirs);
  });

  it.each(Object.values(OP).filter((op) => op !== OP.echo))('%s: same request tensors', (op) => {
    const mine = Object.fromEntries(Object.entries(REQUEST_TENSORS[op]).map(([name, spec]) => [name, { ...spec, ranks: [...spec.ranks] }]));
    expect(mine).toEqual(described.ops[op]!.tensors);
  });
});

describe('argument schemas', () => {
  const view = [{ role: 'user', content: [{ type: 'text', text: 'S..G' }] }];

  it('accept what docs/protocol.md documents', () => {
    const generate = { role: 'student', views: [view], sampling: { max_new_tokens: 8, temperature: 0, top_p: 1, seed: 1 } };
    expect(GenerateArgsSchema.parse(generate)).toEqual(generate);
  });

  it('name the field at fault', () => {
    const result = ScoreArgsSchema.safeParse({ role: 's', views: [view], temperature: 1, mode: 'topk' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([['k', 'k is required when mode is "topk"']]);
    const typo = GenerateArgsSchema.safeParse({ role: 's', views: [view], sampling: { max_new_tokens: 8, temperature: 0, top_p: 1, seed: 1, topk: 3 } });
    expect(typo.error?.issues[0]?.path).toEqual(['sampling']);
    expect(typo.error?.issues[0]?.code).toBe('unrecognized_keys');
  });
});

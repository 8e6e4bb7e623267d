/**
 * The zod declarations of the wire contract: what they accept, how their errors name the field,
 * and that each cross-field rule reaches the generated JSON Schema (the Python side enforces
 * that; `py_backend/tests/test_protocol.py` tests its messages).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildContract } from './contract.js';
import { PROJECT_ROOT } from './interpreter.js';
import { ARGS_SCHEMAS, ESTIMATORS, OP, REQUEST_TENSORS, RESULT_SCHEMAS, WIRE_TEACHER_TENSORS } from './protocol.js';

const GenerateArgsSchema = ARGS_SCHEMAS.generate;
const ScoreArgsSchema = ARGS_SCHEMAS.score;

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

  it('load is an alias xor a fresh model', () => {
    expect(ARGS_SCHEMAS.load.safeParse({ role: 't', alias_of: 's' }).success).toBe(true);
    expect(ARGS_SCHEMAS.load.safeParse({ role: 't', alias_of: 's', seed: 1 }).success).toBe(false);
    expect(ARGS_SCHEMAS.load.safeParse({ role: 't', model: { kind: 'tiny' } }).success).toBe(false);
  });
});

describe('the generated contract', () => {
  const contract = buildContract();

  it('carries each requiredWhen rule as if/then', () => {
    for (const [op, when] of [
      [OP.score, 'mode'],
      [OP.distillStep, 'estimator'],
    ] as const) {
      const args = contract.ops[op].args;
      expect(args.if).toEqual({ properties: { [when]: { const: 'topk' } }, required: [when] });
      expect(args.then).toMatchObject({ required: ['k'], properties: { k: { not: { type: 'null' } } } });
    }
  });

  it('holds every op, its tensors and the estimator vocabulary', () => {
    expect(Object.keys(contract.ops)).toEqual(Object.values(OP));
    expect(contract.vocab.estimators).toEqual(ESTIMATORS);
    expect(Object.keys(WIRE_TEACHER_TENSORS)).toEqual([...ESTIMATORS]);
    expect(contract.ops.pg_step.request_tensors?.old_logprobs).toEqual({ dtype: 'float32', ranks: [1], required: true, same_shape_as: 'response_ids' });
    expect(contract.ops.echo.request_tensors).toBeNull();
    for (const names of Object.values(WIRE_TEACHER_TENSORS)) {
      for (const name of names) expect(REQUEST_TENSORS.distill_step).toHaveProperty(name);
    }
  });

  it('result schemas list every key: an unlisted one is refused', () => {
    const save = { files: ['a'], step: 1, layout: 'full' as const, op_seconds: 0.5 };
    expect(RESULT_SCHEMAS.save.parse(save)).toEqual(save);
    expect(RESULT_SCHEMAS.save.safeParse({ ...save, bytes: 3 }).success).toBe(false);
    expect(contract.ops.distill_step.result.required).toContain('kl_kind');
  });
});

describe('shared cases', () => {
  // The same file is judged by the generated JSON Schema in py_backend/tests/test_protocol.py.
  const { cases } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'fixtures', 'golden', 'protocol-cases.json'), 'utf8')) as {
    cases: Array<{ op: keyof typeof ARGS_SCHEMAS; args: unknown; valid: boolean }>;
  };

  it.each(cases.map((c, i) => [i, c.op, c.valid, c] as const))('case %i (%s) is valid: %s', (_, op, valid, c) => {
    expect(ARGS_SCHEMAS[op].safeParse(c.args).success).toBe(valid);
  });
});

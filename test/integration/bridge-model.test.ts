/**
 * Model ops through the real bridge, checked against the same ops run in Python in process.
 *
 * One worker holds a trainable tiny student and a frozen tiny teacher. The test drives a short
 * OPSD-like sequence over the bridge (load, generate with images, teacher scoring, sft_step,
 * distill_step with a wire teacher and with an in-process teacher, top-k scoring after training),
 * records every request exactly as sent, replays the list through `Worker` in one Python process
 * (`reference_ops.py`, no socket, no Arrow), and requires the same texts, token ids, log-probs,
 * losses and grad norms. Any loss of precision, reordering or misrouting in the bridge shows here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ChatView } from '../../src/chat.js';
import { BackendClient, type WorkerHandle } from '../../src/backend/client.js';
import { type DType, type Tensor, type Tensors, tensor } from '../../src/backend/codec.js';
import { resolveInterpreter, workerEnv } from '../../src/backend/interpreter.js';

const CONFIG = { d_model: 64, n_layers: 2, n_heads: 4, patch_px: 8, max_seq_len: 128, image_size_px: 40 };
const OPTIMIZER = { betas: [0.9, 0.95] as [number, number], weight_decay: 0.01, eps: 1e-8 };
const CLIP = { low: 0.2, high: 0.3, dual: 3 };
const ROWS = 2;

const studentViews: ChatView[] = Array.from({ length: ROWS }, () => [
  { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'plan>' }] },
]);
const teacherViews: ChatView[] = Array.from({ length: ROWS }, (_, i) => [
  { role: 'system', content: [{ type: 'text', text: 'teach' }] },
  { role: 'user', content: [{ type: 'text', text: `S.${i}\n.HG>` }] },
]);
const images = tensor('uint8', [ROWS, 40, 40, 3], Uint8Array.from({ length: ROWS * 40 * 40 * 3 }, (_, i) => ((i >> 5) * 53) % 256));

interface Recorded {
  op: string;
  args: unknown;
  tensors: Tensors;
  reply: { result: Record<string, unknown>; tensors: Tensors };
}

type JsonTensor = { dtype: DType; shape: number[]; values: Array<number | string | boolean> };

function toJson(value: Tensor): JsonTensor {
  const values = value.data instanceof BigInt64Array ? Array.from(value.data, String) : Array.from(value.data as ArrayLike<number>);
  return { dtype: value.dtype, shape: value.shape, values: value.dtype === 'bool' ? values.map(Boolean) : values };
}

function expectClose(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    expect(Number.isFinite(actual), `${where} is finite`).toBe(true);
    expect(Math.abs(actual - expected), `${where}: bridge ${actual} vs python ${expected}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(expected)));
  } else if (Array.isArray(expected) && Array.isArray(actual)) {
    expect(actual.length, `${where} length`).toBe(expected.length);
    expected.forEach((value, i) => expectClose(actual[i], value, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    const keys = Object.keys(expected).filter((key) => key !== 'op_seconds');
    expect(Object.keys(actual).filter((key) => key !== 'op_seconds').sort(), `${where} keys`).toEqual(keys.sort());
    for (const key of keys) expectClose((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${where}.${key}`);
  } else {
    expect(actual, where).toEqual(expected);
  }
}

describe('model ops through the bridge match Python in process', () => {
  let client: BackendClient;
  let worker: WorkerHandle;
  const logDir = mkdtempSync(join(tmpdir(), 'mgsd-bridge-model-'));
  const recorded: Recorded[] = [];

  async function record<T extends { result: object; tensors: object }>(op: string, args: unknown, tensors: Tensors, reply: Promise<T>): Promise<T> {
    const settled = await reply;
    recorded.push({ op, args, tensors, reply: settled as unknown as Recorded['reply'] });
    return settled;
  }

  beforeAll(async () => {
    client = await BackendClient.start({ workers: { main: { threads: 1 } }, logDir, startTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    worker = client.worker('main');
  });
  afterAll(async () => {
    await client?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('runs load → generate → score → sft_step → distill_step → score over the bridge and matches', async () => {
    const model = { kind: 'tiny' as const, config: CONFIG };
    const base = { model, checkpoint: null, device: 'cpu', dtype: 'float32' as const };
    const studentLoad = { role: 'student', ...base, trainable: true, optimizer: OPTIMIZER, seed: 0 };
    const loaded = await record('load', studentLoad, {}, worker.load(studentLoad));
    expect(loaded.result.describe.kind).toBe('tiny');
    const teacherLoad = { role: 'teacher', ...base, trainable: false, optimizer: null, seed: 1 };
    await record('load', teacherLoad, {}, worker.load(teacherLoad));

    const generateArgs = { role: 'student', views: studentViews, sampling: { max_new_tokens: 12, temperature: 1, top_p: 1, seed: 7 } };
    const generated = await record('generate', generateArgs, { images }, worker.generate(generateArgs, { images }));
    const { response_ids, response_mask } = generated.tensors;
    expect(response_ids.shape[0]).toBe(ROWS);
    expect(generated.result.texts).toHaveLength(ROWS);

    const responses = { response_ids, response_mask };
    const scoreArgs = { role: 'teacher', views: teacherViews, temperature: 1, mode: 'token' as const };
    const scored = await record('score', scoreArgs, responses, worker.score(scoreArgs, responses));

    const sftArgs = { role: 'student', views: studentViews, targets: ['RRD', 'DL'], append_eos: true, lr: 1e-3, grad_clip: 1 };
    await record('sft_step', sftArgs, { images }, worker.sftStep(sftArgs, { images }));

    const step = { role: 'student', views: studentViews, temperature: 1, lr: 1e-3, grad_clip: 1, clip: CLIP };
    const wireArgs = { ...step, estimator: 'sampled' as const, teacher: { source: 'wire' as const } };
    const wireTensors = { images, ...responses, teacher_logprobs: scored.tensors.logprobs };
    const distilled = await record('distill_step', wireArgs, wireTensors, worker.distillStep(wireArgs, wireTensors));
    expect(distilled.tensors.log_ratio.shape).toEqual(response_ids.shape);

    const roleArgs = { ...step, estimator: 'full' as const, teacher: { source: 'role' as const, role: 'teacher', views: teacherViews } };
    await record('distill_step', roleArgs, { images, ...responses }, worker.distillStep(roleArgs, { images, ...responses }));

    const topkArgs = { role: 'student', views: studentViews, temperature: 1, mode: 'topk' as const, k: 3 };
    const topk = await record('score', topkArgs, { images, ...responses }, worker.score(topkArgs, { images, ...responses }));
    expect(topk.tensors.topk_ids?.shape).toEqual([...response_ids.shape, 3]);

    const python = resolveInterpreter().path;
    const input = JSON.stringify(
      recorded.map(({ op, args, tensors }) => ({ op, args, tensors: Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, toJson(v)])) })),
    );
    const reference = await execa(python, [join(import.meta.dirname, 'reference_ops.py')], { input, env: workerEnv(), timeout: 120_000 });
    const expected = JSON.parse(reference.stdout) as Array<{ result: Record<string, unknown>; tensors: Record<string, JsonTensor> }>;
    expect(expected).toHaveLength(recorded.length);
    recorded.forEach(({ op, reply }, i) => {
      const where = `#${i} ${op}`;
      expectClose(reply.result, expected[i]!.result, `${where} result`);
      const mine = Object.fromEntries(Object.entries(reply.tensors).map(([k, v]) => [k, toJson(v)]));
      expectClose(mine, expected[i]!.tensors, `${where} tensors`);
    });
  });

  it('model-op errors come back typed with the worker hint (unknown role)', async () => {
    const args = { role: 'ghost', views: teacherViews, temperature: 1, mode: 'token' as const };
    const tensors = { response_ids: tensor('int64', [ROWS, 1], new BigInt64Array(ROWS)), response_mask: tensor('bool', [ROWS, 1], new Uint8Array(ROWS).fill(1)) };
    await expect(worker.score(args, tensors)).rejects.toMatchObject({
      code: 'unknown_role',
      message: expect.stringMatching(/backend op score failed in worker main \(pid \d+\): score: role 'ghost' is not loaded/),
      hint: expect.stringMatching(/load/),
    });
  });
});

/**
 * A worker as a 2-rank group through the real bridge: rank 0 is the only peer, the hello lists both
 * ranks' pids, each rank logs to its own file; a rank that raises gives one error reply naming it
 * and the group keeps serving; `kill -9` of rank 1 in the middle of a step rejects the pending
 * request with one error naming rank 1, SIGKILL and its log, and leaves no rank process behind.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ChatView } from '../../src/chat.js';
import { BackendClient } from '../../src/backend/client.js';
import { tensor } from '../../src/backend/codec.js';

const CONFIG = { d_model: 64, n_layers: 2, n_heads: 4, patch_px: 8, max_seq_len: 128, image_size_px: 40 };
const OPTIMIZER = { betas: [0.9, 0.95] as [number, number], weight_decay: 0.01, eps: 1e-8 };
const ROWS = 4;
const withImage: ChatView = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'plan>' }] }];
const textOnly: ChatView = [{ role: 'user', content: [{ type: 'text', text: 'plan>' }] }];
const images = tensor('uint8', [ROWS, 40, 40, 3], Uint8Array.from({ length: ROWS * 40 * 40 * 3 }, (_, i) => ((i >> 5) * 53) % 256));
const sftArgs = (views: ChatView[]) => ({ role: 'student', views, targets: ['RRDD', 'DL', 'URRD', 'LLU'], append_eos: true, lr: 1e-3, grad_clip: 1 });

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pids.every((pid) => !isAlive(pid))) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('a 2-rank worker group', () => {
  let dir: string;
  let client: BackendClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mgsd-rank-group-'));
    client = await BackendClient.start({ workers: { student: { threads: 1, ranks: 2 } }, logDir: dir, startTimeoutMs: 90_000, requestTimeoutMs: 60_000, shutdownGraceMs: 2000 });
    await client.worker('student').load({ role: 'student', model: { kind: 'tiny', config: CONFIG }, checkpoint: null, trainable: true, optimizer: OPTIMIZER, device: 'cpu', dtype: 'float32', seed: 0 });
  });
  afterAll(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports both ranks and logs each to its own file', async () => {
    const handle = client.worker('student');
    const { result } = await handle.ping();
    expect(result.ranks.map((r) => r.rank)).toEqual([0, 1]);
    expect(handle.hello.ranks).toEqual(result.ranks);
    expect(result.ranks.every((r) => isAlive(r.pid))).toBe(true);
    expect(existsSync(join(dir, 'student.rank0.log')) && existsSync(join(dir, 'student.rank1.log'))).toBe(true);
  });

  it('turns a failure on rank 1 into one error reply naming it, then keeps serving', async () => {
    const handle = client.worker('student');
    // Row 3 is rank 1's; its view has no image part while an image row is sent: only rank 1 fails.
    const bad = [withImage, withImage, withImage, textOnly];
    const error = await handle.sftStep(sftArgs(bad), { images }).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/sft_step: rank 1 failed on rows \[2, 4\) of the request \(log: .*student\.rank1\.log\).*images row 1 is not used/);
    const { result } = await handle.sftStep(sftArgs([withImage, withImage, withImage, withImage]), { images });
    expect(result.tokens).toBeGreaterThan(0);
  });

  it('runs micro-batched steps with the result of the whole step, ranks holding unequal micro-batch counts', async () => {
    const handle = client.worker('student');
    const load = { model: { kind: 'tiny' as const, config: CONFIG }, checkpoint: null, trainable: true, optimizer: OPTIMIZER, device: 'cpu', dtype: 'float32' as const, seed: 5 };
    await handle.load({ role: 'whole', ...load });
    await handle.load({ role: 'micro', ...load });
    // 3 rows: rank 0 holds 2 (two micro-batches of 1), rank 1 holds 1 (one, then an empty one).
    const three = tensor('uint8', [3, 40, 40, 3], images.data.subarray(0, 3 * 40 * 40 * 3));
    const args = (role: string) => ({ ...sftArgs([withImage, withImage, withImage]), role, targets: ['RRDD', 'DL', 'URRD'] });
    const whole = (await handle.sftStep(args('whole'), { images: three })).result;
    const micro = (await handle.sftStep({ ...args('micro'), micro_batch_size: 1 }, { images: three })).result;
    expect(micro.micro_batches).toBe(2);
    expect(micro.tokens).toBe(whole.tokens);
    expect(micro.loss).toBeCloseTo(whole.loss, 5);
    expect(micro.grad_norm).toBeCloseTo(whole.grad_norm, 5);
  });

  it('stops the whole group with one error naming rank 1 when it is killed mid-step', async () => {
    const handle = client.worker('student');
    const pids = handle.hello.ranks.map((r) => r.pid);
    const steps = Array.from({ length: 20 }, () => handle.sftStep(sftArgs([withImage, withImage, withImage, withImage]), { images }));
    await steps[0];
    process.kill(pids[1]!, 'SIGKILL');
    const errors = (await Promise.allSettled(steps.slice(1))).flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(errors[0]!.message).toMatch(/rank 1 of 2 \(pid \d+, log .*student\.rank1\.log\) was killed by SIGKILL; the other 1 rank\(s\) were stopped/);
    expect(await waitGone(pids)).toBe(true);
  });
});

describe('a 2-rank worker group with a rank that hangs', () => {
  it('stops the group after the collective timeout, naming the rank still running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mgsd-rank-hang-'));
    const env = { MGSD_TEST_HANG_RANK: '1', MGSD_COLLECTIVE_TIMEOUT_S: '3' };
    const client = await BackendClient.start({ workers: { student: { threads: 1, ranks: 2, env } }, logDir: dir, startTimeoutMs: 90_000, requestTimeoutMs: 60_000, shutdownGraceMs: 2000 });
    try {
      const handle = client.worker('student');
      const pids = handle.hello.ranks.map((r) => r.pid);
      await handle.load({ role: 'student', model: { kind: 'tiny', config: CONFIG }, checkpoint: null, trainable: true, optimizer: OPTIMIZER, device: 'cpu', dtype: 'float32', seed: 0 });
      const error = await handle.sftStep(sftArgs([withImage, withImage, withImage, withImage]), { images }).then(() => undefined, (e: Error) => e);
      expect(error?.message).toMatch(/rank 0 of 2 .* exited with code 70 .*still running, then stopped: rank 1 \(log .*student\.rank1\.log\)/);
      expect(await waitGone(pids)).toBe(true);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

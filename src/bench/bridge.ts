/**
 * `npm run bench:bridge`: what the TypeScript ⇄ Python bridge costs, on this machine.
 *
 * - `small_rtt_p50_ms`: a JSON `ping` round trip through the full client (target ≤ 0.5 ms);
 * - `arrow_vs_raw_1mib`: p50 of an Arrow `echo` of a 1 MiB float32 tensor through the full
 *   client/server path (encode, validate, decode, re-encode, decode) divided by the p50 of a raw
 *   ZeroMQ echo of the same bytes between a Node ROUTER and a Python DEALER
 *   (`mgsd_backend.raw_echo`) (target ≤ 1.5);
 * - `bridge_overhead_fraction`: a tiny-model `distill_step` (batch 64, a 40×40 image per sample,
 *   wire teacher) timed around the client call, against the same step timed inside Python
 *   (`op_seconds`): (Σ round trip − Σ op) / Σ op (target ≤ 0.05).
 * Payloads stay ≤ 1 MiB (this VM pays ~3 ms per fresh MiB in page faults). Progress goes to
 * stderr; the last stdout line is one JSON object with the figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { execa } from 'execa';
import { Router } from 'zeromq';

import type { ChatView } from '../chat.js';
import { BackendClient, type WorkerHandle } from '../backend/client.js';
import { tensor } from '../backend/codec.js';
import { PROJECT_ROOT, resolveInterpreter, workerEnv } from '../backend/interpreter.js';

const MIB_FLOATS = (1 << 20) / 4;
const BATCH = 64;
const TINY = { d_model: 128, n_layers: 4, n_heads: 4, patch_px: 8, max_seq_len: 256, image_size_px: 40 };

function say(message: string): void {
  process.stderr.write(`bench:bridge ${message}\n`);
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function timeEach(count: number, body: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    await body();
    times.push(performance.now() - started);
  }
  return times;
}

async function benchPing(worker: WorkerHandle): Promise<number[]> {
  await timeEach(50, () => worker.ping());
  return timeEach(500, () => worker.ping());
}

/** A raw echo peer: Node ROUTER ⇄ `python -m mgsd_backend.raw_echo` DEALER, same bytes, no protocol. */
async function startRawEcho(): Promise<{ echo: (bytes: Uint8Array) => Promise<void>; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-bench-'));
  const router = new Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  const endpoint = `ipc://${join(dir, 'raw.sock')}`;
  await router.bind(endpoint);
  const peer = execa(resolveInterpreter().path, ['-m', 'mgsd_backend.raw_echo', endpoint], {
    cwd: PROJECT_ROOT,
    env: workerEnv(),
    stdio: ['ignore', 'ignore', 'inherit'],
    reject: false,
  });
  const [identity] = await router.receive();
  return {
    echo: async (bytes) => {
      await router.send([identity!, bytes]);
      const [, back] = await router.receive();
      if (back?.length !== bytes.length) throw new Error('raw echo returned a different size');
    },
    close: async () => {
      await router.send([identity!, 'stop']);
      await peer;
      router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Arrow echo through the client vs raw echo, interleaved in rounds so load changes hit both. */
async function benchEcho(worker: WorkerHandle, payload: Float32Array): Promise<{ arrow: number[]; raw: number[] }> {
  const x = tensor('float32', [64, payload.length / 64], payload);
  const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  const arrowEcho = async () => {
    const reply = await worker.echo({}, { x });
    if (reply.tensors.x?.data.length !== payload.length) throw new Error('echo returned a different tensor');
  };
  const raw = await startRawEcho();
  try {
    await timeEach(10, arrowEcho);
    await timeEach(10, () => raw.echo(bytes));
    const times = { arrow: [] as number[], raw: [] as number[] };
    for (let round = 0; round < 8; round += 1) {
      times.arrow.push(...(await timeEach(15, arrowEcho)));
      times.raw.push(...(await timeEach(15, () => raw.echo(bytes))));
    }
    return times;
  } finally {
    await raw.close();
  }
}

function views(withImage: boolean, rows: number): ChatView[] {
  return Array.from({ length: rows }, (_, i) => [
    {
      role: 'user' as const,
      content: withImage
        ? [{ type: 'image' as const }, { type: 'text' as const, text: `Plan the path on the map; answer with moves. #${i}` }]
        : [{ type: 'text' as const, text: `S..H\n.H..\n...G\nmap ${i}: plan the path and answer with moves.` }],
    },
  ]);
}

/** Bridge time vs in-Python time of tiny-model distill steps (wire teacher, sampled estimator). */
async function benchDistill(worker: WorkerHandle): Promise<{ bridgeMs: number[]; opMs: number[] }> {
  const base = { model: { kind: 'tiny' as const, config: TINY }, checkpoint: null, device: 'cpu', dtype: 'float32' as const };
  const optimizer = { betas: [0.9, 0.95] as [number, number], weight_decay: 0.01, eps: 1e-8 };
  await worker.load({ role: 'student', ...base, trainable: true, optimizer, seed: 1 });
  await worker.load({ role: 'teacher', ...base, trainable: false, optimizer: null, seed: 2 });
  const pixels = Uint8Array.from({ length: BATCH * 40 * 40 * 3 }, (_, i) => ((i >> 4) * 97) % 256);
  const images = tensor('uint8', [BATCH, 40, 40, 3], pixels);
  const sampling = { max_new_tokens: 48, temperature: 1, top_p: 1, seed: 3 };
  const generated = await worker.generate({ role: 'student', views: views(true, BATCH), sampling }, { images });
  const responses = { response_ids: generated.tensors.response_ids, response_mask: generated.tensors.response_mask };
  const scored = await worker.score({ role: 'teacher', views: views(false, BATCH), temperature: 1, mode: 'token' }, responses);
  const args = {
    role: 'student',
    views: views(true, BATCH),
    estimator: 'sampled' as const,
    temperature: 1,
    lr: 1e-4,
    grad_clip: 1,
    clip: { low: 0.2, high: 0.3, dual: 3 },
    teacher: { source: 'wire' as const },
  };
  const tensors = { images, ...responses, teacher_logprobs: scored.tensors.logprobs };
  const bridgeMs: number[] = [];
  const opMs: number[] = [];
  for (let i = 0; i < 12; i += 1) {
    const started = performance.now();
    const reply = await worker.distillStep(args, tensors);
    if (i < 2) continue; // warm-up
    bridgeMs.push(performance.now() - started);
    opMs.push((reply.result.op_seconds ?? Number.NaN) * 1000);
  }
  return { bridgeMs, opMs };
}

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'mgsd-bench-logs-'));
  const payload = Float32Array.from({ length: MIB_FLOATS }, () => 0);
  new Uint8Array(payload.buffer).set(randomBytes(payload.byteLength));
  const client = await BackendClient.start({ workers: { bench: { threads: 1 } }, logDir, startTimeoutMs: 120_000, requestTimeoutMs: 300_000 });
  try {
    const worker = client.worker('bench');
    const ping = await benchPing(worker);
    say(`ping p50 ${percentile(ping, 0.5).toFixed(3)} ms, p90 ${percentile(ping, 0.9).toFixed(3)} ms`);
    const small = tensor('float32', [4, 64], new Float32Array(256).fill(0.5));
    await timeEach(20, () => worker.echo({}, { x: small }));
    const echo1k = await timeEach(200, () => worker.echo({}, { x: small }));
    say(`1 KiB arrow echo p50 ${percentile(echo1k, 0.5).toFixed(3)} ms (the fixed cost of the Arrow path)`);
    const { arrow, raw } = await benchEcho(worker, payload);
    say(`1 MiB echo p50: arrow ${percentile(arrow, 0.5).toFixed(2)} ms, raw zmq ${percentile(raw, 0.5).toFixed(2)} ms`);
    const distill = await benchDistill(worker);
    const bridgeTotal = distill.bridgeMs.reduce((a, b) => a + b, 0);
    const opTotal = distill.opMs.reduce((a, b) => a + b, 0);
    say(`distill_step batch ${BATCH}: ${(bridgeTotal / distill.bridgeMs.length).toFixed(1)} ms via bridge, ${(opTotal / distill.opMs.length).toFixed(1)} ms in Python`);
    const figures = {
      small_rtt_p50_ms: round(percentile(ping, 0.5)),
      arrow_vs_raw_1mib: round(percentile(arrow, 0.5) / percentile(raw, 0.5)),
      bridge_overhead_fraction: round((bridgeTotal - opTotal) / opTotal),
      small_rtt_p90_ms: round(percentile(ping, 0.9)),
      arrow_echo_1kib_p50_ms: round(percentile(echo1k, 0.5)),
      arrow_echo_1mib_p50_ms: round(percentile(arrow, 0.5)),
      raw_echo_1mib_p50_ms: round(percentile(raw, 0.5)),
      distill_step_bridge_ms: round(bridgeTotal / distill.bridgeMs.length),
      distill_step_python_ms: round(opTotal / distill.opMs.length),
      distill_batch: BATCH,
      cpus: cpus().length,
      node: process.versions.node,
      torch: worker.hello.torch,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await client.close();
    rmSync(logDir, { recursive: true, force: true });
  }
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

await main();

/**
 * The bridge end to end: real `python -m mgsd_backend` workers started through the production
 * `launch.ts`/`client.ts`, no mocks. Covers the handshake, tensors of every dtype, pipelining,
 * error replies, strangers on the socket, version mismatch, a worker killed or hung mid-request,
 * and clean shutdown. Model ops through the bridge live in `bridge-model.test.ts`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';

import { BackendClient } from '../../src/backend/client.js';
import { launchWorker } from '../../src/backend/launch.js';
import { type Tensors, tensor } from '../../src/backend/codec.js';
import { PROTOCOL_VERSION } from '../../src/backend/protocol.js';
import { BackendError, ProtocolError } from '../../src/errors.js';

const START = { startTimeoutMs: 60_000, requestTimeoutMs: 30_000, shutdownGraceMs: 2_000 };
const logDir = mkdtempSync(join(tmpdir(), 'mgsd-bridge-test-'));

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return predicate();
}

function everyDtype(rows: number): Tensors {
  return {
    f32: tensor('float32', [rows, 2, 3], Float32Array.from({ length: rows * 6 }, (_, i) => i / 7 - 1.5)),
    i64: tensor('int64', [rows], BigInt64Array.from({ length: rows }, (_, i) => (i % 2 ? -(2n ** 62n) : 2n ** 53n + BigInt(i)))),
    i32: tensor('int32', [rows, 4], Int32Array.from({ length: rows * 4 }, (_, i) => (i % 3 ? -i : 2 ** 31 - 1))),
    u8: tensor('uint8', [rows, 2, 2, 3], Uint8Array.from({ length: rows * 12 }, (_, i) => (i * 37) % 256)),
    mask: tensor('bool', [rows, 5], Uint8Array.from({ length: rows * 5 }, (_, i) => (i % 3 === 0 ? 1 : 0))),
    scalar: tensor('float32', [rows], Float32Array.from({ length: rows }, (_, i) => (i === 0 ? Number.NaN : -i))),
  };
}

describe('bridge: one worker', () => {
  let client: BackendClient;

  beforeAll(async () => {
    client = await BackendClient.start({ workers: { main: { threads: 1 } }, logDir, ...START });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('handshake: the hello names the worker process and its environment', () => {
    const worker = client.worker('main');
    expect(worker.hello.v).toBe(PROTOCOL_VERSION);
    expect(isAlive(worker.pid)).toBe(true);
    expect(worker.hello.devices[0]?.id).toBe('cpu');
    expect(worker.hello.threads).toBe(1);
    expect(worker.endpoint).toMatch(/^ipc:\/\//);
    // The socket file and its private dir are gone once the handshake is done.
    expect(existsSync(dirname(worker.endpoint.slice('ipc://'.length)))).toBe(false);
  });

  it('echo round-trips every dtype, edge values and an empty batch', async () => {
    for (const rows of [3, 0]) {
      const sent = everyDtype(rows);
      const { result, tensors } = await client.worker('main').echo({ note: 'grüße', rows }, sent);
      expect(result).toEqual({ note: 'grüße', rows });
      expect(Object.keys(tensors)).toEqual(Object.keys(sent));
      for (const [name, value] of Object.entries(sent)) {
        expect(tensors[name]?.dtype, name).toBe(value.dtype);
        expect(tensors[name]?.shape, name).toEqual(value.shape);
        expect(Array.from(tensors[name]!.data as ArrayLike<unknown>), name).toEqual(Array.from(value.data as ArrayLike<unknown>));
      }
    }
  });

  it('pipelined requests all settle with their own replies', async () => {
    const worker = client.worker('main');
    const calls = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 0 ? worker.ping() : worker.echo({ i }, { x: tensor('int32', [2], Int32Array.of(i, -i)) }),
    );
    expect(worker.inFlight).toBe(40);
    const replies = await Promise.all(calls);
    replies.forEach((reply, i) => {
      if (i % 4 === 0) expect(reply.result.pid).toBe(worker.pid);
      else expect([reply.result, Array.from(reply.tensors.x!.data as Int32Array)]).toEqual([{ i }, [i, -i]]);
    });
    expect(worker.inFlight).toBe(0);
  });

  it.each([
    ['an unknown op', 'fly', {}, {}, /unknown op 'fly'/],
    ['an unknown argument', 'ping', { loud: true }, {}, /op ping: args: unknown key\(s\) loud/],
    ['a bad argument type', 'save', { role: 'student', dir: 3, include_optimizer: false }, {}, /args\.dir: expected a non-empty string, got 3 \(number\)/],
    [
      'a wrong tensor dtype',
      'score',
      { role: 's', views: [[{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]], temperature: 1, mode: 'token' },
      { response_ids: tensor('float32', [1, 2], new Float32Array(2)), response_mask: tensor('bool', [1, 2], new Uint8Array(2)) },
      /tensor response_ids: expected dtype int64, got float32/,
    ],
  ])('%s comes back as a BackendError with the traceback; the worker keeps serving', async (_, op, args, tensors, message) => {
    const worker = client.worker('main');
    const error = await worker.callUnchecked(op, args, tensors as Tensors).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    const backendError = error as BackendError;
    expect(backendError.code).toBe('bad_request');
    expect(backendError.message).toMatch(message);
    expect(backendError.message).toContain(`worker main (pid ${worker.pid})`);
    expect(backendError.context.traceback).toMatch(/Traceback \(most recent call last\)/);
    expect((backendError.cause as Error).message).toMatch(/RequestError/);
    expect((await worker.ping()).result.pid).toBe(worker.pid);
  });

  it('the client refuses bad arguments before sending (typed ProtocolError)', async () => {
    const worker = client.worker('main');
    const bad = { role: 'student', dir: '', include_optimizer: 'no' } as never;
    await expect(worker.save(bad)).rejects.toThrow(ProtocolError);
    await expect(worker.save(bad)).rejects.toThrow(/args\.dir: .*; args\.include_optimizer: /);
  });

  it('a hung worker gives a timeout error naming the op and the timeout, then recovers', async () => {
    const worker = client.worker('main');
    process.kill(worker.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const error = await worker.ping({ timeoutMs: 300 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).code).toBe('timeout');
      expect((error as Error).message).toMatch(/backend op ping timed out after 300 ms \(worker main, pid \d+/);
    } finally {
      process.kill(worker.pid, 'SIGCONT');
    }
    expect((await worker.ping()).result.pid).toBe(worker.pid);
    // The late reply of the timed-out ping is logged, not mistaken for another request's.
    expect(await waitUntil(() => readFileSync(worker.logFile, 'utf8').includes('not pending (timed out?)'), 5_000)).toBe(true);
  });
});

describe('bridge: lifecycle and failures', () => {
  it('kill -9 mid-request rejects every pending request at once, naming the signal and the log', async () => {
    const client = await BackendClient.start({ workers: { doomed: { threads: 1 } }, logDir, ...START });
    const worker = client.worker('doomed');
    process.kill(worker.pid, 'SIGSTOP'); // the requests below are surely in flight when it dies
    const pending = [worker.ping(), worker.echo({ a: 1 }), worker.ping()].map((p) => p.catch((e: unknown) => e));
    const started = Date.now();
    process.kill(worker.pid, 'SIGKILL');
    const errors = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const error of errors) {
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).code).toBe('worker_died');
      expect((error as Error).message).toMatch(/backend worker doomed \(pid \d+\) was killed by SIGKILL while 3 request\(s\) were pending/);
      expect((error as Error).message).toContain(worker.logFile);
    }
    await expect(worker.ping()).rejects.toThrow(/was killed by SIGKILL/);
    expect(isAlive(worker.pid)).toBe(false);
    await client.close();
  });

  it('close stops the worker: no process, no temp dir, and later calls fail clearly', async () => {
    const client = await BackendClient.start({ workers: { a: { threads: 1 }, b: { threads: 1 } }, logDir, ...START });
    const pids = client.names.map((name) => client.worker(name).pid);
    expect(new Set(pids).size).toBe(2);
    await client.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    for (const name of ['a', 'b']) {
      const endpoint = client.worker(name).endpoint;
      expect(existsSync(dirname(endpoint.slice('ipc://'.length)))).toBe(false);
      expect(readFileSync(client.worker(name).logFile, 'utf8')).toMatch(/stopped on request[\s\S]*worker exited with code 0/);
    }
    await expect(client.worker('a').ping()).rejects.toThrow(/worker a is closing or closed|exited with code 0/);
    expect(() => client.worker('c')).toThrow(/no backend worker named "c" \(started: a, b\)/);
  });

  it('a peer without the launch token is ignored and logged', async () => {
    const stranger = new Dealer({ linger: 0 });
    let strangerReplies = 0;
    const launched = await launchWorker({
      name: 'guarded',
      logDir,
      threads: 1,
      startTimeoutMs: START.startTimeoutMs,
      // A stranger connects as soon as the socket is bound, well before the real worker's hello.
      onEndpoint: (endpoint) => {
        stranger.connect(endpoint);
        void stranger.send(JSON.stringify({ v: PROTOCOL_VERSION, op: 'hello', token: 'f'.repeat(64), pid: 1 }));
        stranger.receive().then(
          () => (strangerReplies += 1),
          () => undefined,
        );
      },
    });
    try {
      expect(launched.pid).not.toBe(1);
      expect(readFileSync(launched.log.path, 'utf8')).toMatch(/ignored a message from peer [0-9a-f]+: a hello without this launch's token/);
      expect(strangerReplies).toBe(0);
    } finally {
      stranger.close();
      await launched.shutdown(async () => undefined, 500);
    }
  });

  it('a protocol version mismatch is a ProtocolError naming both versions; no process is left', async () => {
    const error = await BackendClient.start({
      workers: { old: { threads: 1, env: { MGSD_TEST_ANNOUNCE_VERSION: String(PROTOCOL_VERSION + 1) } } },
      logDir,
      ...START,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toBe(
      `backend worker old speaks protocol version ${PROTOCOL_VERSION + 1}, this client speaks ${PROTOCOL_VERSION}; the Python worker is newer`,
    );
    expect((error as ProtocolError).hint).toMatch(/npm run build/);
    const log = readFileSync(join(logDir, 'old.log'), 'utf8');
    const pid = Number(/mgsd-worker\[(\d+)\]/.exec(log)?.[1]);
    expect(await waitUntil(() => !isAlive(pid), 5_000)).toBe(true);
  });

  it('a missing interpreter says to run npm run setup', async () => {
    const error = await BackendClient.start({ workers: { x: { threads: 1 } }, logDir, python: '/nonexistent/python', ...START }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('python_missing');
    expect((error as Error).message).toContain('/nonexistent/python (from the backend.python option) does not exist');
  });

  it('a worker that dies before its hello names the exit code and quotes its stderr', async () => {
    const error = await BackendClient.start({ workers: { broken: { threads: 1 } }, logDir, python: process.execPath, ...START }).catch(
      (e: unknown) => e,
    );
    // Node is given `-m mgsd_backend …`: it fails at once with its own message on stderr.
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('worker_died');
    expect((error as Error).message).toMatch(/backend worker broken exited with code \d+ before its hello\.\nLast lines of its log/);
    expect((error as Error).message).toMatch(/bad option: -m/);
  });
});

afterAll(() => rmSync(logDir, { recursive: true, force: true }));

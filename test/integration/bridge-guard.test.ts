/**
 * The bridge's defences, with real `python -m mgsd_backend` workers: the launch token never
 * appears on a command line; a long $TMPDIR still gets a private unix socket; on the tcp fallback a
 * stranger who connects first and says hello is ignored while the real worker is accepted, and a
 * hello after the handshake is ignored; a stopped worker is found by its heartbeat in seconds,
 * rejected with one clear error and killed for good.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';

import { BackendClient } from '../../src/backend/client.js';
import { launchWorker } from '../../src/backend/launch.js';
import { MAX_SOCKET_PATH_BYTES } from '../../src/backend/private-socket.js';
import { PROTOCOL_VERSION } from '../../src/backend/protocol.js';
import { BackendError } from '../../src/errors.js';

const START_TIMEOUT_MS = 60_000;
const logDir = mkdtempSync(join(tmpdir(), 'mgsd-guard-test-'));

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

describe('bridge: no hijack', () => {
  it('a long TMPDIR still gets a private ipc socket, and the choice is logged', async () => {
    const long = join(tmpdir(), 'mgsd-long-tmpdir-'.padEnd(60, 'x'), 'y'.repeat(60));
    mkdirSync(long, { recursive: true });
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = long;
    try {
      expect(Buffer.byteLength(join(long, 'mgsd-XXXXXX', 'worker.sock'))).toBeGreaterThan(MAX_SOCKET_PATH_BYTES);
      const launched = await launchWorker({ name: 'long-tmpdir', logDir, threads: 1, startTimeoutMs: START_TIMEOUT_MS });
      try {
        expect(launched.endpoint).toMatch(/^ipc:\/\//);
        expect(launched.endpoint.length - 'ipc://'.length).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
        expect(readFileSync(launched.log.path, 'utf8')).toMatch(/socket in \S+ instead of .*over the 107-byte unix socket limit/);
      } finally {
        await launched.shutdown(async () => undefined, 500);
      }
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(join(tmpdir(), 'mgsd-long-tmpdir-'.padEnd(60, 'x')), { recursive: true, force: true });
    }
  });

  it('on tcp, a stranger that says hello first is ignored and the real worker is accepted; the token is not in argv', async () => {
    const stranger = new Dealer({ linger: 0 });
    let strangerReplies = 0;
    const launched = await launchWorker({
      name: 'tcp-guarded',
      logDir,
      threads: 1,
      startTimeoutMs: START_TIMEOUT_MS,
      forceTcp: true,
      onEndpoint: (endpoint) => {
        // Connects before the worker is even spawned, and greets with a guessed token.
        stranger.connect(endpoint);
        void stranger.send(JSON.stringify({ v: PROTOCOL_VERSION, op: 'hello', token: '0'.repeat(64), pid: process.pid }));
        stranger.receive().then(
          () => (strangerReplies += 1),
          () => undefined,
        );
      },
    });
    try {
      expect(launched.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      expect(launched.pid).not.toBe(process.pid);
      // The worker's command line names no token (any local user can read it).
      const argv = readFileSync(`/proc/${launched.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('mgsd_backend');
      expect(argv.join(' ')).not.toMatch(/token|[0-9a-f]{64}/);
      // A hello after the handshake, from the stranger, is ignored too.
      await stranger.send(JSON.stringify({ v: PROTOCOL_VERSION, op: 'hello', token: '1'.repeat(64), pid: launched.pid }));
      const log = (): string => readFileSync(launched.log.path, 'utf8');
      expect(await waitUntil(() => /ignored a hello from peer [0-9a-f]+ after the handshake/.test(log()), 5_000)).toBe(true);
      expect(log()).toMatch(/falling back to tcp:\/\/127\.0\.0\.1/);
      expect(log()).toMatch(/ignored a message from peer [0-9a-f]+: a hello without this launch's token/);
      expect(strangerReplies).toBe(0);
    } finally {
      stranger.close();
      await launched.shutdown(async () => undefined, 500);
    }
  });
});

describe('bridge: heartbeat', () => {
  it('a SIGSTOPped worker is declared stalled in seconds, with one clear error, and killed for good', async () => {
    const client = await BackendClient.start({
      workers: { frozen: { threads: 1 } },
      logDir,
      startTimeoutMs: START_TIMEOUT_MS,
      requestTimeoutMs: 600_000,
      heartbeatTimeoutMs: 2_000,
      shutdownGraceMs: 1_000,
    });
    const worker = client.worker('frozen');
    const pid = worker.pid;
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    const error = await worker.ping().catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeGreaterThan(1_500);
    expect(elapsedMs).toBeLessThan(8_000);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('worker_stalled');
    expect((error as Error).message).toMatch(
      new RegExp(`^backend worker frozen \\(pid ${pid}\\) stopped responding: no heartbeat for \\d+\\.\\d s \\(the process is stopped \\(SIGSTOP`),
    );
    expect((error as Error).message).toContain('while 1 request(s) were pending (ping); it was killed with SIGKILL');
    expect((error as Error).message).toContain(worker.logFile);
    expect((error as BackendError).hint).toMatch(/backend\.heartbeatTimeoutMs/);
    await client.close();
    expect(isAlive(pid)).toBe(false);
    await expect(worker.ping()).rejects.toThrow(/stopped responding/);
  });

  it('a worker that is merely busy keeps beating and is not declared stalled', async () => {
    const client = await BackendClient.start({
      workers: { busy: { threads: 1 } },
      logDir,
      startTimeoutMs: START_TIMEOUT_MS,
      requestTimeoutMs: 60_000,
      heartbeatTimeoutMs: 2_000,
    });
    try {
      const worker = client.worker('busy');
      // Node's own loop blocked for longer than the timeout must not count as the worker's silence.
      const until = Date.now() + 3_000;
      while (Date.now() < until) {
        /* busy-wait on purpose */
      }
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect((await worker.ping()).result.pid).toBe(worker.pid);
    } finally {
      await client.close();
    }
  });
});

afterAll(() => rmSync(logDir, { recursive: true, force: true }));

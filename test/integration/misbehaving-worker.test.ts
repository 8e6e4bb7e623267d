/**
 * The client against workers that misbehave on purpose (test/fixtures/workers/misbehave.py: the
 * real worker with bad answers injected), started through the production launch path. A
 * malformed reply must fail its request at once with a `ProtocolError` that says what was wrong
 * (never a wait for the request timeout); silence must end in the timeout error; a worker that
 * exits mid-reply must fail the pending request with the exit and the log. The texts asserted
 * here are the ones users see.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BackendClient } from '../../src/backend/client.js';
import { tensor } from '../../src/backend/codec.js';
import { PROJECT_ROOT, VENV_PYTHON } from '../../src/backend/interpreter.js';
import { BackendError, ProtocolError } from '../../src/errors.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'workers', 'misbehaving-python');
const REQUEST_TIMEOUT_MS = 20_000;

describe('misbehaving workers', () => {
  let client: BackendClient;

  beforeAll(async () => {
    const env = { MGSD_FIXTURE_PYTHON: process.env.MGSD_PYTHON ?? VENV_PYTHON };
    client = await BackendClient.start({
      workers: { bad: { threads: 1, env }, dying: { threads: 1, env } },
      logDir: mkdtempSync(join(tmpdir(), 'mgsd-misbehave-test-')),
      python: FIXTURE,
      startTimeoutMs: 60_000,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      shutdownGraceMs: 1_000,
    });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('a garbage reply fails the pending request at once, escaped, naming the worker', async () => {
    const started = Date.now();
    const error = await client.worker('bad').echo({ misbehave: 'garbage' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    const message = (error as Error).message;
    expect(message).toMatch(/^backend op echo failed: worker bad \(pid \d+\) sent a malformed reply: frame 0 is not a JSON header/);
    expect(message).toContain('\\u001b]0;pwned\\u0007'); // the escape sequence is shown, not run
    expect(message).not.toContain('\u001b');
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    expect((await client.worker('bad').ping()).result.pid).toBe(client.worker('bad').pid); // still serving
  });

  it('a header without its result fails exactly the request it names', async () => {
    const bad = client.worker('bad');
    const [broken, fine] = await Promise.allSettled([bad.echo({ misbehave: 'bad_header' }), bad.echo({ ok: 1 })]);
    expect(broken.status).toBe('rejected');
    const error = (broken as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/^backend op echo failed: worker bad \(pid \d+\) sent a malformed reply: its header is off the protocol \(result: /);
    expect(fine).toMatchObject({ status: 'fulfilled', value: { result: { ok: 1 } } });
  });

  it('a reply whose tensor stream is cut short is a ProtocolError about the tensors', async () => {
    const tensors = { x: tensor('float32', [2, 64], new Float32Array(128)) };
    const error = await client.worker('bad').echo({ misbehave: 'partial' }, tensors).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/^backend op echo \(worker bad\): the reply does not match the protocol: /);
  });

  it('silence ends in the timeout error, which names the op and the log', async () => {
    const error = await client.worker('bad').echo({ misbehave: 'silence' }, {}, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('timeout');
    expect((error as Error).message).toMatch(/^backend op echo timed out after 1500 ms \(worker bad, pid \d+/);
    expect((error as BackendError).hint).toContain('bad.log');
  });

  it('a worker that exits in the middle of a reply fails the request with its exit and log', async () => {
    const error = await client.worker('dying').echo({ misbehave: 'exit_mid_reply' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    const message = (error as Error).message;
    expect(message).toMatch(/^backend worker dying \(pid \d+\) exited with code 3 while 1 request\(s\) were pending \(echo\)/);
    expect(message).toContain('misbehave: exiting in the middle of a reply');
  });
});

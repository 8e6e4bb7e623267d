/**
 * A run suspended and resumed as a shell does it (Ctrl-Z stops the whole process group; `fg`
 * continues it) keeps its pending request: the pause is not counted against the request timeout.
 * The client runs in a child Node process of its own process group, so the test can stop and
 * continue it together with its worker (test/fixtures/workers/misbehave.py, `slow` mode).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { PROJECT_ROOT, VENV_PYTHON } from '../../src/backend/interpreter.js';

const CLIENT = pathToFileURL(join(PROJECT_ROOT, 'dist', 'backend', 'client.js')).href;
const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'workers', 'misbehaving-python');

/** The child: one worker, one 1.5 s request under a 2.5 s timeout; prints `sent`, then the outcome. */
const SCRIPT = `
import { BackendClient } from ${JSON.stringify(CLIENT)};
const client = await BackendClient.start({
  workers: { w: { threads: 1, env: { MGSD_FIXTURE_PYTHON: ${JSON.stringify(process.env.MGSD_PYTHON ?? VENV_PYTHON)} } } },
  logDir: ${JSON.stringify(mkdtempSync(join(tmpdir(), 'mgsd-suspend-test-')))},
  python: ${JSON.stringify(FIXTURE)}, startTimeoutMs: 60000, requestTimeoutMs: 2500, shutdownGraceMs: 1000,
});
const reply = client.worker('w').echo({ misbehave: 'slow', sleep_ms: 1500 });
console.log('sent');
try {
  await reply;
  console.log('replied');
} catch (error) {
  console.log('failed: ' + error.message);
} finally {
  await client.close();
}
`;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('a suspended run', () => {
  it('does not time out a request for the time it was stopped (Ctrl-Z, then fg)', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      for (let waited = 0; !out.includes('sent'); waited += 50) {
        if (waited > 60_000 || child.exitCode !== null) throw new Error(`the client did not start: ${out}`);
        await sleep(50);
      }
      await sleep(300);
      process.kill(-child.pid!, 'SIGSTOP'); // the whole group, worker included, as the shell does
      await sleep(4_000); // longer than the request timeout
      process.kill(-child.pid!, 'SIGCONT');
      expect(await exited).toBe(0);
      expect(out).toContain('replied');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});

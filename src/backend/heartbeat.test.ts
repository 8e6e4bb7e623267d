/** Stall detection against real processes: a stopped one after the timeout, a silent running one after the grace, a beating one never. */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { HeartbeatMonitor, type Stall, WEDGED_FACTOR } from './heartbeat.js';

function watch(pid: number, timeoutMs: number, beat?: PassThrough) {
  const stream = beat ?? new PassThrough();
  const monitor = new HeartbeatMonitor(pid, stream);
  const started = performance.now();
  const graces: Stall[] = [];
  const stalled = new Promise<{ stall: Stall; afterMs: number }>((resolve) =>
    monitor.arm(timeoutMs, (stall) => resolve({ stall, afterMs: performance.now() - started }), (stall) => graces.push(stall)),
  );
  return { monitor, stalled, graces, stream };
}

describe('HeartbeatMonitor', () => {
  it('declares a SIGSTOPped process stalled after the timeout, naming its state', async () => {
    const child = spawn('sleep', ['30']);
    process.kill(child.pid!, 'SIGSTOP');
    try {
      const { stalled } = watch(child.pid!, 300);
      const { stall, afterMs } = await stalled;
      expect(afterMs).toBeGreaterThanOrEqual(300);
      expect(afterMs).toBeLessThan(300 * WEDGED_FACTOR);
      expect(stall.state).toMatch(/^the process is stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('gives a silent process that is not stopped a grace period before calling it wedged', async () => {
    const { stalled, graces } = watch(process.pid, 200);
    const { stall, afterMs } = await stalled;
    expect(graces).toHaveLength(1);
    expect(afterMs).toBeGreaterThanOrEqual(200 * WEDGED_FACTOR);
    expect(stall.state).toMatch(/running|sleeping/);
  });

  it('never declares a beating process stalled', async () => {
    const beat = new PassThrough();
    const timer = setInterval(() => beat.write('.'), 50);
    const { monitor, stalled, graces } = watch(process.pid, 200, beat);
    const outcome = await Promise.race([stalled.then(() => 'stalled'), new Promise((resolve) => setTimeout(() => resolve('alive'), 1_000))]);
    clearInterval(timer);
    monitor.stop();
    expect(outcome).toBe('alive');
    expect(graces).toEqual([]);
  });
});

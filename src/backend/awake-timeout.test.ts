/** The awake-time timeout against a controlled clock: a frozen event loop's gap is not counted, ordinary lateness is. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AwakeTimeout, SLICE_MS } from './awake-timeout.js';

describe('AwakeTimeout', () => {
  let frozenMs = 0; // time the clock moved while no timer could run (a stopped process)
  const now = (): number => Date.now() + frozenMs;

  beforeEach(() => {
    vi.useFakeTimers();
    frozenMs = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('fires after its time when the process is never paused', () => {
    const fired = vi.fn();
    new AwakeTimeout(2_500, fired, now);
    vi.advanceTimersByTime(2_499);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('does not count a pause longer than a slice (Ctrl-Z, then fg ten minutes later)', () => {
    const fired = vi.fn();
    new AwakeTimeout(3 * SLICE_MS, fired, now);
    vi.advanceTimersByTime(SLICE_MS);
    frozenMs += 600_000; // stopped in the middle of the second slice
    vi.advanceTimersByTime(SLICE_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(SLICE_MS);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('counts lateness shorter than a slice in full', () => {
    const fired = vi.fn();
    new AwakeTimeout(3 * SLICE_MS, fired, now);
    frozenMs += SLICE_MS / 2;
    vi.advanceTimersByTime(SLICE_MS); // 1.5 slices counted
    frozenMs += SLICE_MS / 2;
    vi.advanceTimersByTime(SLICE_MS); // 3 slices counted
    expect(fired).toHaveBeenCalledOnce();
  });

  it('never fires once cleared, and clearing after it fired is harmless', () => {
    const fired = vi.fn();
    const timeout = new AwakeTimeout(100, fired, now);
    timeout.clear();
    vi.advanceTimersByTime(10_000);
    expect(fired).not.toHaveBeenCalled();
    const other = new AwakeTimeout(100, fired, now);
    vi.advanceTimersByTime(100);
    other.clear();
    expect(fired).toHaveBeenCalledOnce();
  });
});

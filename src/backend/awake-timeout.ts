/**
 * A timeout that counts only the time this process was awake. A run suspended with Ctrl-Z (the
 * whole process group stops: Node and its workers) must not find its requests timed out when `fg`
 * resumes it: the op made no progress while stopped, and neither did the clock it is judged by.
 *
 * How: the wait is cut into slices of at most `SLICE_MS`; a slice that ends much later than it was
 * due means the event loop did not run (the process was stopped, or a long synchronous step held
 * it), and counts only as its own length. Ordinary lateness (< one slice) counts in full. The same
 * rule keeps the heartbeat monitor (`heartbeat.ts`) from blaming a worker for the client's pause.
 */

/** The longest slice, ms: a timeout fires at most this late, and a pause shorter than it counts. */
export const SLICE_MS = 1000;

export class AwakeTimeout {
  private remainingMs: number;
  private sliceMs = 0;
  private sliceStartedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  /** Calls `onExpire` once, after `ms` of awake time; `now` is injectable for tests. */
  constructor(
    ms: number,
    private readonly onExpire: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.remainingMs = Math.max(0, ms);
    this.schedule();
  }

  /** Cancels it; safe to call after it fired. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.sliceMs = Math.min(this.remainingMs, SLICE_MS);
    this.sliceStartedAt = this.now();
    this.timer = setTimeout(() => this.onSlice(), this.sliceMs);
  }

  private onSlice(): void {
    const elapsed = this.now() - this.sliceStartedAt;
    // Late by more than a slice: the loop was not running (stopped or blocked); that gap is not awake time.
    const awake = elapsed - this.sliceMs > Math.max(this.sliceMs, 50) ? this.sliceMs : elapsed;
    this.remainingMs -= awake;
    if (this.remainingMs > 0) return this.schedule();
    this.timer = undefined;
    this.onExpire();
  }
}

/**
 * Liveness of one backend process, independent of its requests: the process writes a byte to an
 * inherited pipe every `intervalMs` (`py_backend/mgsd_backend/heartbeat.py`, a thread that keeps
 * beating while an op computes), and `HeartbeatMonitor` declares it stalled once it has been silent
 * for `timeoutMs`. A SIGSTOPped or wedged process is thus found in seconds, while a long op is not
 * (its heartbeat thread keeps beating).
 *
 * The beat needs Python's GIL, so a native call that holds it (or a machine so overloaded that the
 * thread is not scheduled) can silence a healthy worker. Silence is therefore judged with the
 * process's scheduler state (/proc): a STOPPED process is stalled after `timeoutMs`; one that is
 * running, sleeping or in I/O is given `WEDGED_FACTOR` times longer before it counts as wedged
 * (logged when the grace starts). Where /proc cannot tell, `timeoutMs` applies.
 *
 * Invariant: silence is measured only while this Node process is itself responsive. If Node's event
 * loop was blocked (a long synchronous step, or Node itself stopped with Ctrl-Z), beats waiting in
 * the pipe are read before silence is judged, so a busy client never blames a healthy worker.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** How often a backend process beats; a stall timeout should be several of these. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** Default silence after which a process counts as stalled (config `backend.heartbeatTimeoutMs`). */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

/** How many heartbeat timeouts a silent process that is not stopped gets before it counts as wedged. */
export const WEDGED_FACTOR = 6;

/** What a stalled process looked like when it was declared stalled. */
export interface Stall {
  /** How long no beat arrived, ms. */
  silentMs: number;
  /** Its scheduler state from /proc, in words ('stopped (SIGSTOP or a debugger)', …), or null. */
  state: string | null;
}

/** Watches one process's heartbeat pipe; `arm` starts judging silence. */
export class HeartbeatMonitor {
  private lastBeatAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private lastCheckAt = 0;
  private isEnded = false;
  /** The beat time whose silence is in its grace period (not stopped, not yet wedged). */
  private graceStartedAt: number | undefined;

  constructor(
    private readonly pid: number,
    stream: Readable | null | undefined,
  ) {
    if (!stream) {
      this.isEnded = true;
      return;
    }
    stream.on('data', () => (this.lastBeatAt = performance.now()));
    const end = (): void => {
      this.isEnded = true;
      this.stop();
    };
    // NOTE: the pipe ends (or errors) when the process is gone; its exit is reported elsewhere.
    stream.on('end', end);
    stream.on('error', end);
  }

  /** Milliseconds since the last beat. */
  get silentMs(): number {
    return performance.now() - this.lastBeatAt;
  }

  /**
   * Starts calling `onStall` (once) when no beat arrives for `timeoutMs` (a stopped process) or
   * `WEDGED_FACTOR × timeoutMs` (any other state); `onGrace` is told when a grace period starts.
   */
  arm(timeoutMs: number, onStall: (stall: Stall) => void, onGrace: (stall: Stall) => void = () => undefined): void {
    if (this.isEnded || this.timer) return;
    const everyMs = Math.max(50, Math.min(1000, timeoutMs / 4));
    this.lastBeatAt = performance.now(); // silence counts from now, not from the spawn
    this.lastCheckAt = performance.now();
    this.timer = setInterval(() => this.check(timeoutMs, everyMs, onStall, onGrace), everyMs);
    this.timer.unref();
  }

  /** Stops watching (the process exited or is being shut down). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(timeoutMs: number, everyMs: number, onStall: (stall: Stall) => void, onGrace: (stall: Stall) => void): void {
    const now = performance.now();
    const lagMs = now - this.lastCheckAt - everyMs;
    this.lastCheckAt = now;
    // The event loop was blocked: beats may be waiting unread in the pipe. Judge next time.
    if (lagMs > everyMs) return;
    if (this.silentMs < timeoutMs) {
      this.graceStartedAt = undefined;
      return;
    }
    // Timers run before I/O in each loop turn; read any pending beat before deciding.
    setImmediate(() => {
      if (this.timer === undefined || this.silentMs < timeoutMs) return;
      const code = processStateCode(this.pid);
      const stall = { silentMs: Math.round(this.silentMs), state: describeState(code) };
      if (code === 'Z') return; // exited: its exit is reported, not a stall
      const isStopped = code === 'T' || code === 't';
      if (!isStopped && code !== null && this.silentMs < timeoutMs * WEDGED_FACTOR) {
        if (this.graceStartedAt === undefined) {
          this.graceStartedAt = this.lastBeatAt;
          onGrace(stall);
        }
        return;
      }
      this.stop();
      onStall(stall);
    });
  }
}

const STATES: Record<string, string> = {
  T: 'the process is stopped (SIGSTOP, Ctrl-Z or a debugger)',
  t: 'the process is stopped by a debugger',
  D: 'the process is blocked in uninterruptible I/O (a hung disk or network filesystem?)',
  R: 'the process is running but silent (wedged in native code holding the GIL?)',
  S: 'the process is sleeping but silent (a deadlock?)',
  Z: 'the process has exited',
};

/** The Linux scheduler state letter of `pid` (`R`, `S`, `T`…), or null where /proc cannot tell. */
export function processStateCode(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || null;
  } catch {
    return null;
  }
}

/** A state letter in words, or null. */
function describeState(code: string | null): string | null {
  return code === null ? null : (STATES[code] ?? `the process is in state ${code}`);
}

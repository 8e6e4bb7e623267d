/**
 * Progress of long work: stage, step/total, rate, ETA and the stage's key metrics.
 *
 * Library code never prints; it reports to a `Progress` created by the CLI with a writer (stderr).
 * On a terminal the line is redrawn in place; otherwise a line is written at most every
 * `intervalMs`, plus one when a stage ends, so CI logs stay readable.
 */
import type { ProgressMetrics } from '../train/progress-types.js';

/** Where progress text goes, and whether it can redraw a line. */
export interface ProgressSink {
  write(text: string): void;
  isTty: boolean;
}

/** One stage's progress bar. */
export interface StageProgress {
  /** Report that `step` of `total` is done. */
  update(step: number, metrics?: ProgressMetrics): void;
  /** Report the end of the stage (prints the final line). */
  done(summary?: ProgressMetrics): void;
}

/** Creates progress lines for successive stages. */
export class Progress {
  constructor(
    private readonly sink: ProgressSink,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A one-line message (stage starts, notices). */
  note(message: string): void {
    this.sink.write(`${this.sink.isTty ? '\r\x1b[2K' : ''}${message}\n`);
  }

  /** Starts the progress of a stage of `total` steps (resumed stages start at `startStep`). */
  stage(name: string, total: number, startStep = 0): StageProgress {
    const started = this.now();
    // Non-terminal output: the first line comes one interval in, so short stages print only `done`.
    let lastPrint = started;
    const render = (step: number, metrics: ProgressMetrics | undefined): string => {
      const elapsedS = (this.now() - started) / 1000;
      const rate = elapsedS > 0 ? (step - startStep) / elapsedS : 0;
      const eta = rate > 0 ? (total - step) / rate : Number.NaN;
      const parts = [`[${name}] ${step}/${total}`, `${rate.toFixed(2)} step/s`, `eta ${formatSeconds(eta)}`];
      for (const [key, value] of Object.entries(metrics ?? {})) parts.push(`${key} ${formatValue(value)}`);
      return parts.join('  ');
    };
    return {
      update: (step, metrics) => {
        const line = render(step, metrics);
        const t = this.now();
        if (this.sink.isTty) this.sink.write(`\r\x1b[2K${line}`);
        else if (t - lastPrint >= this.intervalMs) {
          this.sink.write(`${line}\n`);
          lastPrint = t;
        }
      },
      done: (summary) => {
        const elapsedS = (this.now() - started) / 1000;
        const parts = [`[${name}] done in ${formatSeconds(elapsedS)}`];
        for (const [key, value] of Object.entries(summary ?? {})) parts.push(`${key} ${formatValue(value)}`);
        this.sink.write(`${this.sink.isTty ? '\r\x1b[2K' : ''}${parts.join('  ')}\n`);
      },
    };
  }
}


function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function formatValue(value: number | string): string {
  if (typeof value === 'string') return value;
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 || Math.abs(value) < 0.001 ? value.toExponential(2) : value.toFixed(3);
}

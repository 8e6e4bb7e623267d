/**
 * How `mgsd run` reacts to the signals that ask a process to stop: SIGINT (Ctrl-C), SIGTERM
 * (`timeout`, systemd, docker, SLURM) and SIGHUP (a closed terminal). The first one asks the run to
 * stop after its current step — every stage checkpoints, then the run ends with `RunInterrupted`
 * (exit 130, 143 or 129, see `SIGNAL_EXIT_CODES`). A second one aborts at once: the process exits
 * with that code, and execa's cleanup SIGKILLs every worker on the way out (SIGKILL also ends a
 * stopped worker), so none is orphaned.
 *
 * NOTE: while a listener is installed Node does not die of these signals; `uninstall` must run
 * when the command ends, or a later signal would be ignored.
 */
import { RunInterrupted, SIGNAL_EXIT_CODES, type StopSignal } from '../errors.js';
import type { Progress } from '../experiment/progress.js';

/** The stop request shared with the pipeline; `signal` is the first signal received. */
export interface StopRequest {
  requested: boolean;
  signal?: StopSignal;
}

/** Installs the handlers; returns the stop request and a function that removes them. */
export function installStopSignals(progress: Progress): { stop: StopRequest; uninstall: () => void } {
  const stop: StopRequest = { requested: false };
  const signals = Object.keys(SIGNAL_EXIT_CODES) as StopSignal[];
  const onSignal = (signal: StopSignal): void => {
    if (stop.requested) {
      progress.note(`[run] ${signal} again: aborting now, without a checkpoint (the last complete one stays usable)`);
      process.exit(SIGNAL_EXIT_CODES[signal]);
    }
    stop.requested = true;
    stop.signal = signal;
    progress.note(`[run] ${signal}: stopping after the current step and checkpointing (send it again to abort without a checkpoint)`);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return { stop, uninstall: () => signals.forEach((signal) => process.off(signal, onSignal)) };
}

/** A `RunInterrupted` that names the signal which stopped the run and exits with its code. */
export function withStopSignal(error: unknown, stop: StopRequest): unknown {
  if (!(error instanceof RunInterrupted) || stop.signal === undefined) return error;
  return new RunInterrupted(error.code, `run stopped by ${stop.signal}: ${error.message}`, {
    hint: error.hint,
    context: { ...error.context, signal: stop.signal },
    signal: stop.signal,
  });
}

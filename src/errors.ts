/**
 * The error vocabulary of mgsd.
 *
 * Every error a user can see is an `MgsdError`: a `code` (stable, machine-readable), a message that
 * says what was wrong and where, a `hint` that says what to do, and the original error as `cause`.
 * Library code throws these; only `cli/main.ts` prints them and chooses the exit code
 * (2 for usage and configuration errors, 130/143/129 for a run stopped by SIGINT/SIGTERM/SIGHUP,
 * 1 for everything else).
 */

/** Fields every mgsd error may carry besides its message. */
export interface MgsdErrorOptions {
  /** What the user should do next, in one sentence. */
  hint?: string;
  /** The error this one explains; kept so `--verbose` can show the whole chain. */
  cause?: unknown;
  /** Where it happened: file, config path, env/level/seed, op, sample id… */
  context?: Record<string, unknown>;
}

/** Base class of every error mgsd throws on purpose. */
export class MgsdError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;
  /** Exit status the CLI uses for this error. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, options: MgsdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.context = options.context ?? {};
  }
}

/** A configuration file, preset, flag or `--set` override is wrong. */
export class ConfigError extends MgsdError {
  override readonly exitCode: number = 2;
}

/** A command was called with wrong arguments. */
export class UsageError extends MgsdError {
  override readonly exitCode: number = 2;
}

/** A dataset, benchmark file or responses file is malformed or inconsistent. */
export class DataError extends MgsdError {}

/** An environment could not do what was asked (e.g. no instance in the requested bucket). */
export class EnvError extends MgsdError {}

/** The Python backend failed: an exception in an op, a crash, a hang. */
export class BackendError extends MgsdError {}

/** The two sides of the bridge disagree on the protocol (version, schema, framing). */
export class ProtocolError extends MgsdError {}

/** Training diverged or otherwise cannot continue (NaN loss, …). */
export class TrainingError extends MgsdError {}

/**
 * A cause kept for `--verbose` only (a Python traceback): the user's error line and hint already say
 * what happened; the detail is in the worker log, and printed in full with `--verbose`.
 */
export class VerboseDetail extends Error {}

// C0 controls except tab and newline, DEL, C1 controls, the bidirectional overrides/isolates/marks
// and the byte-order mark: none of them may reach a terminal raw from a file or an argument.
const UNSAFE_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Makes text safe to print on a terminal: every control character (ESC, BEL, CR, other C0/C1), bidi
 * override and BOM becomes a visible escape (`\x1b`, `\u202e`); tabs and newlines are kept.
 * Applied by `formatError` to every message and hint, so echoed input can never retitle, clear or
 * reorder the user's terminal.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Formats an error chain for people: message, hint, then causes (with stacks when verbose), escaped for a terminal. */
export function formatError(error: unknown, verbose = false): string {
  return escapeForTerminal(formatErrorChain(error, verbose));
}

function formatErrorChain(error: unknown, verbose: boolean): string {
  const lines: string[] = [];
  let current: unknown = error;
  let depth = 0;
  while (current !== undefined && current !== null && depth < 8) {
    const prefix = depth === 0 ? 'error' : 'caused by';
    if (current instanceof VerboseDetail && !verbose) {
      lines.push(`(${current.name}: in the worker log; --verbose prints it)`);
      break;
    }
    if (current instanceof Error) {
      lines.push(`${prefix}: ${current.message}`);
      if (current instanceof MgsdError && current.hint) lines.push(`  hint: ${current.hint}`);
      if (verbose && current.stack) lines.push(indent(current.stack.split('\n').slice(1).join('\n')));
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      lines.push(`${prefix}: ${String(current)}`);
      current = undefined;
    }
    depth += 1;
  }
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line.trim()}`)
    .join('\n');
}

/** Exit status of a run stopped by each signal: 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** A signal that stops a run gracefully (Ctrl-C; `timeout`, systemd, docker, SLURM; a closed terminal). */
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * The user stopped a run (Ctrl-C, SIGTERM or SIGHUP); its state was checkpointed and `--resume`
 * continues it. Exits 130, 143 or 129 (128 + the signal number; SIGINT when none is given).
 */
export class RunInterrupted extends MgsdError {
  override readonly exitCode: number;
  readonly signal: StopSignal;

  constructor(code: string, message: string, options: MgsdErrorOptions & { signal?: StopSignal } = {}) {
    super(code, message, options);
    this.signal = options.signal ?? 'SIGINT';
    this.exitCode = SIGNAL_EXIT_CODES[this.signal];
  }
}

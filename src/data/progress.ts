/**
 * The progress interface data work reports to. `data/` never prints: the CLI passes an object with
 * this shape (the experiment layer's `Progress` fits it), or `NO_PROGRESS` in tests and libraries.
 */

/** Progress of one named piece of work of `total` steps. */
export interface StageReporter {
  update(step: number, metrics?: Record<string, number | string>): void;
  done(summary?: Record<string, number | string>): void;
}

/** Creates stage reporters and prints one-line notes. */
export interface ProgressReporter {
  stage(name: string, total: number): StageReporter;
  note(message: string): void;
}

/** A reporter that reports nothing. */
export const NO_PROGRESS: ProgressReporter = {
  stage: () => ({ update: () => undefined, done: () => undefined }),
  note: () => undefined,
};

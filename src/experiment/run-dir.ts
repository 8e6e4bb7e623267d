/**
 * The layout of a run directory (DESIGN.md §8), in one place:
 *
 * ```
 * <run>/config.resolved.json    the validated config, every default filled in (reruns read it)
 * <run>/manifest.json           code and package versions, seeds, dataset hash, models, machine
 * <run>/run-state.json          which stages are done (resume reads it)
 * <run>/metrics/<stage>.jsonl   append-only training metrics, one file per stage
 * <run>/ledger/<stage>.jsonl    append-only rollout ledger (OPSD, GRPO)
 * <run>/checkpoints/<stage>/    step-<n>/ (weights/ + state.json), latest.json, best.json
 * <run>/eval/<model>-<input>.jsonl   every evaluated response with its grade
 * <run>/results.json            the table's numbers
 * <run>/report.md, report.html  the report;  <run>/report/  its images
 * <run>/logs/                   worker logs
 * ```
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ConfigError } from '../errors.js';
import { writeJsonAtomic } from '../fs-atomic.js';

/** Names of the files and folders of a run. */
export class RunDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get config(): string {
    return join(this.root, 'config.resolved.json');
  }
  get manifest(): string {
    return join(this.root, 'manifest.json');
  }
  get state(): string {
    return join(this.root, 'run-state.json');
  }
  get results(): string {
    return join(this.root, 'results.json');
  }
  get logs(): string {
    return join(this.root, 'logs');
  }
  get reportAssets(): string {
    return join(this.root, 'report');
  }
  metrics(stage: string): string {
    return join(this.root, 'metrics', `${stage}.jsonl`);
  }
  ledger(stage: string): string {
    return join(this.root, 'ledger', `${stage}.jsonl`);
  }
  checkpoints(stage: string): string {
    return join(this.root, 'checkpoints', stage);
  }
  evaluation(model: string, input: string): string {
    return join(this.root, 'eval', `${model}-${input}.jsonl`);
  }

  /** Creates the folders of a new run; fails if `root` already holds a run. */
  create(): void {
    if (existsSync(this.config)) {
      throw new ConfigError('run_exists', `${this.root} already holds a run`, {
        hint: `Continue it with --resume ${this.root}, or choose another --out.`,
      });
    }
    for (const dir of [this.root, this.logs, join(this.root, 'metrics'), join(this.root, 'ledger'), join(this.root, 'eval')]) {
      mkdirSync(dir, { recursive: true });
    }
  }

  /** Checks that `root` holds a run that can be resumed. */
  assertResumable(): void {
    if (!existsSync(this.config)) {
      throw new ConfigError('not_a_run', `${this.root} is not an mgsd run directory (no config.resolved.json)`, {
        hint: 'Pass the --out directory of an earlier `mgsd run` to --resume.',
      });
    }
  }

  readJson<T>(path: string): T {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  }

  writeJson(path: string, value: unknown): void {
    writeJsonAtomic(path, value);
  }
}

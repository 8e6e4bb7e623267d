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
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { z } from 'zod';

import { ConfigError } from '../errors.js';
import { writeJsonAtomic } from '../fs-atomic.js';
import { readRunFile, RunManifestSchema, RunStateSchema, sha256OfFile } from './run-files.js';
import { LOCK_FILE } from './run-lock.js';

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

  /**
   * Creates the folders of a new run. A directory that holds a run with progress (a finished stage
   * or a checkpoint) is refused; one whose run failed before any progress is started over, and
   * `true` is returned so the caller can say so (otherwise it could be neither rerun nor resumed
   * with a corrected config).
   */
  create(): boolean {
    const isRestart = existsSync(this.config);
    const others = existsSync(this.root) ? readdirSync(this.root).filter((name) => name !== LOCK_FILE) : [];
    if (!isRestart && others.length > 0) {
      const listed = others.slice(0, 3).join(', ') + (others.length > 3 ? ', …' : '');
      throw new ConfigError('run_dir_not_empty', `${this.root} is not empty (${listed}) and holds no mgsd run: a run would write over files it did not create`, {
        hint: 'Choose a new or empty folder for --out.',
        context: { path: this.root },
      });
    }
    if (isRestart && this.hasProgress()) {
      throw new ConfigError('run_exists', `${this.root} already holds a run with finished work (see ${this.state} and checkpoints/)`, {
        hint: `Continue it with \`mgsd run --resume ${this.root}\` (it keeps its config), or choose another --out.`,
      });
    }
    for (const dir of [this.root, this.logs, join(this.root, 'metrics'), join(this.root, 'ledger'), join(this.root, 'eval')]) {
      mkdirSync(dir, { recursive: true });
    }
    return isRestart;
  }

  /** True when a stage finished or any stage saved a checkpoint: work a restart would throw away. */
  hasProgress(): boolean {
    if (existsSync(this.state)) return true;
    const folder = join(this.root, 'checkpoints');
    if (!existsSync(folder)) return false;
    return readdirSync(folder).some((stage) => existsSync(join(folder, stage, 'latest.json')));
  }

  /** Checks that `root` holds a run (for --resume, eval and report). */
  assertResumable(): void {
    if (!existsSync(this.config)) {
      const why = existsSync(this.root) ? 'no config.resolved.json' : 'the folder does not exist';
      throw new ConfigError('not_a_run', `${this.root} is not an mgsd run directory (${why})`, {
        hint: 'Pass the --out directory of an earlier `mgsd run` (runs/<name>-seed<seed> by default).',
      });
    }
  }

  /**
   * The resolved config as written when the run started, with `_source` split off. Refused when the
   * file no longer matches the sha256 the manifest recorded (a hand edit would silently change a
   * resumed run). The caller validates the config itself.
   */
  readConfig(): { raw: Record<string, unknown>; source: string | null } {
    this.assertResumable();
    const remedy = `Restore ${this.config} as the run wrote it, or start a new run with \`mgsd run --out <new dir>\` and your changes as --config/--set.`;
    const manifest = this.readFile(this.manifest, RunManifestSchema, 'run manifest', `Restore ${this.manifest} (it is written when the run starts), or start a new run with --out.`);
    if (manifest.config_sha256 !== undefined) {
      const actual = sha256OfFile(this.config);
      if (actual !== manifest.config_sha256) {
        throw new ConfigError('config_edited', `${this.config} was changed after the run started (sha256 ${actual.slice(0, 12)}…, the manifest recorded ${manifest.config_sha256.slice(0, 12)}…)`, {
          hint: remedy,
          context: { path: this.config },
        });
      }
    }
    const { _source: source, ...raw } = this.readFile(this.config, RecordSchema, 'resolved config', remedy);
    return { raw, source: typeof source === 'string' ? source : null };
  }

  /** The finished stages recorded in `run-state.json` (empty when no stage finished yet). */
  readState(): z.infer<typeof RunStateSchema> {
    if (!existsSync(this.state)) return { stages: {} };
    return this.readFile(this.state, RunStateSchema, 'run state', `Restore ${this.state}, or delete it and run \`mgsd run --resume ${this.root}\`: each stage then continues from its latest checkpoint.`);
  }

  /** Reads a JSON file of this run through `schema` (see run-files.ts for the errors). */
  readFile<S extends z.ZodType>(path: string, schema: S, what: string, remedy: string): z.infer<S> {
    return readRunFile(path, schema, what, remedy);
  }

  writeJson(path: string, value: unknown): void {
    writeJsonAtomic(path, value);
  }
}

/** The resolved config is validated by the config schema afterwards; here it must be a JSON object. */
const RecordSchema = z.record(z.string(), z.unknown());

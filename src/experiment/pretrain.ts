/**
 * `mgsd pretrain`: trains the tiny base (the text-only planning prior that stands in for a public
 * pretrained VLM) as a run directory of its own, evaluates it, and writes it with a model card to
 * `--out` — the directory a config's `model.path` then loads (`stages.base.enabled: false`).
 *
 * Invariants:
 * - The working run directory is an ordinary run (resolved config, manifest, lock, checkpoints,
 *   metrics, run state), so `--resume` continues an interrupted attempt from its last checkpoint.
 * - `--out` is written atomically: the model files, README.md and card.json are assembled in a
 *   staging folder beside it and renamed into place. An existing `--out` is replaced only with
 *   `--force`, and only when it is a base this command wrote (it has a valid card.json); `--out`
 *   never lies inside the run, the config file or a dataset, and the run never lies inside `--out`.
 * - Wall and CPU seconds of every attempt are appended to `metrics/pretrain-attempts.jsonl`; the
 *   card sums them.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';

import { z } from 'zod';

import { PACKAGE_ROOT } from '../data/benchmarks.js';
import { readManifest, readToolVersion } from '../data/manifest.js';
import { BackendError, ConfigError, RunInterrupted, UsageError } from '../errors.js';
import { AppendLog, readLog } from './append-log.js';
import { type BaseCard, CARD_FORMAT, readBaseCard, recipeHash } from './base-card.js';
import { inputMetricsOf, writeCard } from './base-card-write.js';
import type { ExperimentConfig } from './config.js';
import { cpuSecondsSoFar } from './cpu-time.js';
import { loadConfig } from './load.js';
import { assertSafeOutput, realLocation } from './output-guard.js';
import { type PretrainedBase, pretrainBase } from './pretrain-stage.js';
import type { Progress } from './progress.js';
import { RunDir } from './run-dir.js';
import { sha256OfFile } from './run-files.js';
import { withRunLock } from './run-lock.js';
import { assertRunName, createRunDir, gitCommit, type OpenedRun, openForResume } from './run.js';
import { assertSequenceBudget } from './sequence-budget.js';

/** The recipe `mgsd pretrain` uses without `--config`. */
export const DEFAULT_RECIPE = 'tiny-base';

/** What `mgsd pretrain` was asked to do. */
export interface PretrainCommand {
  config: string;
  overrides: string[];
  /** The base directory to write (as the user gave it: it appears in the card's rebuild command). */
  out: string;
  /** The working run directory (null = runs/pretrain-<name>-seed<seed>). */
  run: string | null;
  resume: boolean;
  force: boolean;
  progress: Progress;
  stop: { requested: boolean };
}

/** A written base. */
export interface PretrainOutcome {
  out: string;
  run: RunDir;
  card: BaseCard;
}

/** Trains, evaluates and writes a base, holding the working run's lock throughout. */
export async function startPretrain(command: PretrainCommand): Promise<PretrainOutcome> {
  const note = (message: string): void => command.progress.note(message);
  if (command.resume) {
    if (command.overrides.length > 0) {
      throw new ConfigError('resume_overrides', '--set cannot be combined with --resume: a resumed pretrain keeps its config', {
        hint: 'Drop --set, or start a new pretrain with another --run and your --set.',
      });
    }
    const run = new RunDir(command.run ?? defaultRunDir(loadConfig(command.config).config));
    run.assertResumable(); // before the lock, which would create the folder
    assertOut(command, run.root, []);
    return withRunLock(run.root, note, () => execute(command, openForResume(run)));
  }
  const loaded = loadConfig(command.config, command.overrides);
  assertPretrainable(loaded.config, loaded.source);
  assertSequenceBudget(loaded.config, loaded.source);
  const run = new RunDir(command.run ?? defaultRunDir(loaded.config));
  assertOut(command, run.root, [{ label: '--config', path: loaded.source }]);
  if (existsSync(run.config) && run.hasProgress()) {
    throw new ConfigError('run_exists', `${run.root} already holds a pretrain run with finished work`, {
      hint: `Continue it with \`mgsd pretrain --resume --run ${run.root} --out ${command.out}\`, or choose another --run.`,
    });
  }
  return withRunLock(run.root, note, () => execute(command, createRunDir(run, loaded, note)));
}

/** The default working run directory of a recipe. */
export function defaultRunDir(config: ExperimentConfig): string {
  return join('runs', `pretrain-${assertRunName(config.name)}-seed${config.seed}`);
}

/** Only the tiny model has a base stage to pretrain. */
function assertPretrainable(config: ExperimentConfig, source: string): void {
  if (config.model.kind === 'tiny' && config.stages.base.enabled) return;
  throw new ConfigError('not_pretrainable', `${source}: mgsd pretrain trains the tiny model's base stage, but the config has model.kind "${config.model.kind}" and stages.base.enabled ${config.stages.base.enabled}`, {
    hint: `Use a recipe with model.kind "tiny" and stages.base.enabled true, e.g. -c ${DEFAULT_RECIPE}.`,
  });
}

async function execute(command: PretrainCommand, opened: OpenedRun): Promise<PretrainOutcome> {
  const { run, config, configDir } = opened;
  assertPretrainable(config, run.config);
  const out = resolve(command.out);
  command.progress.note(`[pretrain] ${run.root} (${config.name}, seed ${config.seed}) → ${out}`);
  const staging = join(dirname(out), `.${basename(out)}.pretrain-staging`);
  rmSync(staging, { recursive: true, force: true }); // a staging folder of an earlier, failed attempt
  const services = { run, progress: command.progress, stop: command.stop };
  const attempt = startAttempt(run);
  let base: PretrainedBase;
  try {
    base = await pretrainBase(config, configDir, services, staging);
  } catch (error) {
    attempt.finish(false);
    rmSync(staging, { recursive: true, force: true });
    throw withPretrainHint(error, run.root, command.out);
  }
  attempt.finish(true);
  const card = writeCard(staging, cardOf(config, run, base, command));
  publish(staging, out);
  return { out, run, card };
}

/** Wall and CPU time of one attempt, appended when it ends (CPU includes the reaped workers). */
function startAttempt(run: RunDir): { finish: (isFinished: boolean) => void } {
  const started = performance.now();
  const cpuStarted = cpuSecondsSoFar();
  return {
    finish: (isFinished) => {
      const cpuEnded = cpuSecondsSoFar();
      const log = AppendLog.open(attemptsPath(run));
      log.append([{ finished: isFinished, wallSeconds: (performance.now() - started) / 1000, cpuSeconds: cpuStarted === null || cpuEnded === null ? null : cpuEnded - cpuStarted, endedAt: new Date().toISOString() }]);
      log.close();
    },
  };
}

function attemptsPath(run: RunDir): string {
  return join(run.root, 'metrics', 'pretrain-attempts.jsonl');
}

const AttemptSchema = z.object({ wallSeconds: z.number(), cpuSeconds: z.number().nullable() });

/** The card of the base, without its file hashes (`writeCard` adds them). */
function cardOf(config: ExperimentConfig, run: RunDir, base: PretrainedBase, command: PretrainCommand): Omit<BaseCard, 'files'> {
  const manifest = run.readFile(run.manifest, RunRecipeSchema, 'run manifest', `Restore ${run.manifest}, or start a new pretrain with another --run.`);
  const attempts = readLog(attemptsPath(run)).map((line) => AttemptSchema.parse(line));
  const cpuSeconds = attempts.some((a) => a.cpuSeconds === null) ? null : attempts.reduce((sum, a) => sum + a.cpuSeconds!, 0);
  const source = displayPath(manifest.config_source);
  const sets = manifest.overrides.map((o) => ` --set ${shellWord(o)}`).join('');
  return {
    format: CARD_FORMAT,
    mgsd: readToolVersion(),
    gitCommit: gitCommit(),
    createdAt: new Date().toISOString(),
    recipe: { source, overrides: manifest.overrides, sha256: recipeHash(config), config: { ...config } },
    model: { kind: 'tiny', tiny: { ...config.model.tiny }, imageSizePx: config.data.imageSizePx },
    dataset: { key: base.dataset.key, manifestSha256: sha256OfFile(join(base.dataset.dir, 'manifest.json')), counts: readManifest(base.dataset.dir).counts },
    training: { steps: base.stepsDone, wallSeconds: attempts.reduce((sum, a) => sum + a.wallSeconds, 0), cpuSeconds, attempts: attempts.length },
    metrics: { text: inputMetricsOf(base.metrics.text), teacher: inputMetricsOf(base.metrics.teacher) },
    machine: { os: `${platform()} ${release()}`, cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length },
    commands: {
      rebuild: `npx mgsd pretrain -c ${shellWord(source)}${sets} --out ${shellWord(command.out)}`,
      measure: `npx mgsd pretrain --measure ${shellWord(command.out)}`,
    },
  };
}

/** The fields of the run manifest the card repeats. */
const RunRecipeSchema = z.looseObject({ config_source: z.string(), overrides: z.array(z.string()) });

/** A path inside the package as package-relative (`configs/tiny-base.yaml`), others as given. */
function displayPath(path: string): string {
  const inside = relative(PACKAGE_ROOT, path);
  return inside.startsWith('..') || isAbsolute(inside) ? path : inside;
}

/** One shell word: plain when safe, single-quoted otherwise. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/**
 * Refuses an `--out` that would destroy an input or a directory mgsd did not write: inside the run,
 * the config or a dataset; containing the run; or existing without `--force` or without a card.
 */
function assertOut(command: PretrainCommand, runRoot: string, inputs: Array<{ label: string; path: string }>): void {
  const out = resolve(command.out);
  assertSafeOutput('--out', out, [...inputs, { label: '--run', path: runRoot }]);
  if (realLocation(runRoot).startsWith(`${realLocation(out)}/`)) {
    throw new UsageError('run_inside_out', `--run ${runRoot} lies inside --out ${command.out}: replacing the base would delete the run`, {
      hint: 'Choose a --run outside --out (the default is under runs/).',
    });
  }
  if (!existsSync(out)) return;
  if (!command.force) {
    throw new UsageError('output_exists', `--out ${command.out} already exists`, {
      hint: 'Pass --force to replace a base that `mgsd pretrain` wrote, or choose a new directory.',
    });
  }
  try {
    readBaseCard(out, '--out');
  } catch (error) {
    throw new UsageError('output_not_a_base', `--out ${command.out} exists and is not a base written by \`mgsd pretrain\` (no valid card.json): --force replaces only those`, {
      cause: error,
      hint: 'Choose a new directory for --out, or move that folder away yourself.',
    });
  }
}

/** Renames the finished staging folder into place (replacing an old base, checked by `assertOut`). */
function publish(staging: string, out: string): void {
  if (!existsSync(out)) {
    renameSync(staging, out);
    return;
  }
  const old = join(dirname(out), `.${basename(out)}.replaced`);
  rmSync(old, { recursive: true, force: true });
  renameSync(out, old);
  renameSync(staging, out);
  rmSync(old, { recursive: true, force: true });
}

/** An interrupted attempt, or a lost worker, says how to continue this pretrain (not `mgsd run`). */
function withPretrainHint(error: unknown, root: string, out: string): unknown {
  const resume = `npx mgsd pretrain --resume --run ${shellWord(root)} --out ${shellWord(out)}`;
  if (error instanceof RunInterrupted) return new RunInterrupted(error.code, error.message, { cause: error.cause, context: error.context, hint: `Continue with: ${resume}`, signal: error.signal });
  if (error instanceof BackendError && (error.code === 'worker_died' || error.code === 'worker_stalled')) {
    return new BackendError(error.code, error.message, { cause: error.cause, context: error.context, hint: `${error.hint ?? ''} Then continue from the last checkpoint with: ${resume}`.trim() });
  }
  return error;
}

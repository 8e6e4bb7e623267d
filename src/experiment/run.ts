/**
 * Starting or resuming a run: resolve the config (a resumed run reads its own
 * `config.resolved.json`, never the preset again), lock the run directory (one writer at a time),
 * create or open it, write the manifest (with the sha256 of the resolved config, so a later hand
 * edit is detected), then hand over to the pipeline.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname, join } from 'node:path';

import { readToolVersion } from '../data/manifest.js';
import { ConfigError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { GENERATOR_VERSION } from '../envs/index.js';
import type { ResultsFile } from '../eval/results.js';
import { baseIdentityOf, configuredBaseOf, loadedBasePath } from './base-card.js';
import type { ExperimentConfig } from './config.js';
import { formatChanges } from './config-diff.js';
import { type LoadedConfig, loadConfig, validateWrittenConfig } from './load.js';
import { StageCheckpoints } from './checkpoints.js';
import { assertSafeOutput } from './output-guard.js';
import { assertSequenceBudget } from './sequence-budget.js';
import { runPipeline } from './pipeline.js';
import type { Progress } from './progress.js';
import { writeReport } from './report-stage.js';
import { RunDir } from './run-dir.js';
import { withRunLock } from './run-lock.js';

/** What `mgsd run` was asked to do. */
export interface RunCommand {
  config: string;
  overrides: string[];
  out: string | null;
  resume: string | null;
  /** False (`--no-reuse`): recompute every stage (reuse.enabled=false). */
  shouldReuse: boolean;
  progress: Progress;
  stop: { requested: boolean };
}

/** A finished run. */
export interface RunOutcome {
  run: RunDir;
  results: ResultsFile;
}

/** Runs a new experiment or resumes one, holding the run directory's lock throughout. */
export async function startRun(command: RunCommand): Promise<RunOutcome> {
  const note = (message: string): void => command.progress.note(message);
  if (command.resume !== null) {
    if (command.out !== null) {
      throw new UsageError('resume_with_out', `--out ${command.out} cannot be combined with --resume ${command.resume}: a resumed run stays in its own directory`, {
        hint: `Drop --out to continue ${command.resume}, or drop --resume to start a new run in ${command.out}.`,
      });
    }
    if (command.overrides.length > 0) {
      throw new ConfigError('resume_overrides', '--set cannot be combined with --resume: a resumed run keeps its config', {
        hint: 'Drop --set, or start a new run with --out <new dir> and your --set.',
      });
    }
    const run = new RunDir(command.resume);
    run.assertResumable(); // before the lock, which would create the folder
    return withRunLock(run.root, note, () => execute(command, withReuse(openForResume(run), command.shouldReuse)));
  }
  const overrides = command.shouldReuse ? command.overrides : [...command.overrides, 'reuse.enabled=false'];
  const loaded = loadConfig(command.config, overrides);
  assertSequenceBudget(loaded.config, loaded.source);
  configuredBaseOf(loaded.config); // a damaged or mismatched base fails before the run directory exists
  const root = command.out ?? join('runs', `${assertRunName(loaded.config.name)}-seed${loaded.config.seed}`);
  assertSafeOutput('--out', root, [{ label: '--config', path: loaded.source }]);
  return withRunLock(new RunDir(root).root, note, () => execute(command, createRunDir(new RunDir(root), loaded, note)));
}

async function execute(command: RunCommand, opened: OpenedRun): Promise<RunOutcome> {
  const { run, config, configDir } = opened;
  command.progress.note(`[run] ${run.root} (${config.name}, seed ${config.seed})`);
  const results = await runPipeline({ config, configDir, services: { run, progress: command.progress, stop: command.stop } });
  const report = writeReport(run);
  command.progress.note(`[report] ${report.markdown}, ${report.html}`);
  return { run, results };
}

/** An opened run directory, its config, and the folder of the config file (relative paths). */
export interface OpenedRun {
  run: RunDir;
  config: ExperimentConfig;
  configDir: string | null;
}

/** Creates (or starts over) the run directory `run` for `loaded`: config, manifest with the config's sha256. */
export function createRunDir(run: RunDir, loaded: LoadedConfig, note: (message: string) => void): OpenedRun {
  const { config, source, overrides, changes } = loaded;
  const changed = formatChanges(changes);
  note(`[run] changed from preset ${source}: ${changed.length === 0 ? 'nothing' : changed.join(', ')}`);
  if (run.create()) note(`[run] ${run.root} holds a run that failed before finishing a stage or saving a checkpoint: starting it over with this config`);
  const text = `${JSON.stringify({ ...config, _source: source }, null, 2)}\n`;
  writeFileAtomic(run.config, text);
  run.writeJson(run.manifest, { ...manifestOf(config, source), overrides, changed_from_preset: changes, config_sha256: createHash('sha256').update(text).digest('hex') });
  return { run, config, configDir: dirname(source) };
}

/** Reuse never changes results, so --no-reuse applies to a resumed run without touching its config. */
function withReuse(opened: OpenedRun, shouldReuse: boolean): OpenedRun {
  return shouldReuse ? opened : { ...opened, config: { ...opened.config, reuse: { ...opened.config.reuse, enabled: false } } };
}

/** Opens an existing run for `--resume`: its own resolved config (sha256-checked) and state files. */
export function openForResume(run: RunDir): OpenedRun {
  const { raw, source } = run.readConfig();
  const config = validateWrittenConfig(raw, run.config);
  checkRunFiles(run);
  return { run, config, configDir: source === null ? null : dirname(source) };
}

/**
 * Reads every state file a resume relies on (run state, each stage's checkpoint pointers) before any
 * worker starts, so a damaged one is named in a second rather than after the dataset is rebuilt.
 */
function checkRunFiles(run: RunDir): void {
  run.readState();
  const folder = join(run.root, 'checkpoints');
  if (!existsSync(folder)) return;
  for (const stage of readdirSync(folder)) {
    const checkpoints = new StageCheckpoints(run, stage);
    checkpoints.latest();
    checkpoints.best();
  }
}

/**
 * The run name becomes a folder under `runs/`: it must be one plain path component, so a name
 * like `../../x` or `a/b` cannot place (or later resume) a run outside `runs/`.
 */
export function assertRunName(name: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && !name.includes('..')) return name;
  throw new ConfigError('run_name_invalid', `name: ${JSON.stringify(name)} cannot name a run folder under runs/ (letters, digits, ".", "_" and "-" only, no path separators or "..")`, {
    hint: 'Set a plain name, e.g. --set name=my-run, or choose the folder itself with --out <dir>.',
    context: { key: 'name' },
  });
}

/** Versions, seeds and the machine, for reproducing the run. */
function manifestOf(config: ExperimentConfig, source: string): Record<string, unknown> {
  return {
    mgsd: readToolVersion(),
    git_commit: gitCommit(),
    generator_version: GENERATOR_VERSION,
    config_source: source,
    seed: config.seed,
    data_seed: config.data.seed,
    model: config.model.kind === 'tiny' ? { kind: 'tiny', ...config.model.tiny, base: loadedBaseOf(config) } : { kind: 'hf', path: config.model.path },
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: cpus().length,
    // The machine kind, for "other CPUs may differ in the last digits" (docs tables name it).
    cpu_model: cpus()[0]?.model.trim() ?? null,
    started_at: new Date().toISOString(),
  };
}

/** The pretrained base a tiny run loads (its folder and card sha256), or null when it trains its own. */
function loadedBaseOf(config: ExperimentConfig): { path: string; card_sha256: string } | null {
  const path = loadedBasePath(config);
  return path === null ? null : { path, card_sha256: baseIdentityOf(path) };
}

/** The git commit of this checkout, or null for an installed package. */
export function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: new URL('../../', import.meta.url), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null; // not a git checkout (an installed package): the version above identifies the code
  }
}

/**
 * Starting or resuming a run: resolve the config (a resumed run reads its own
 * `config.resolved.json`, never the preset again), create or open the run directory, write the
 * manifest, then hand over to the pipeline.
 */
import { execFileSync } from 'node:child_process';
import { cpus, platform, release } from 'node:os';
import { dirname, join } from 'node:path';

import { readToolVersion } from '../data/manifest.js';
import { ConfigError } from '../errors.js';
import { GENERATOR_VERSION } from '../envs/index.js';
import type { ResultsFile } from '../eval/results.js';
import type { ExperimentConfig } from './config.js';
import { formatChanges } from './config-diff.js';
import { loadConfig, validateConfig } from './load.js';
import { runPipeline } from './pipeline.js';
import type { Progress } from './progress.js';
import { writeReport } from './report-stage.js';
import { RunDir } from './run-dir.js';

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

/** Runs a new experiment or resumes one. */
export async function startRun(command: RunCommand): Promise<RunOutcome> {
  const { run, config, configDir } = command.resume !== null ? openForResume(command) : createRun(command);
  command.progress.note(`[run] ${run.root} (${config.name}, seed ${config.seed})`);
  const results = await runPipeline({ config, configDir, services: { run, progress: command.progress, stop: command.stop } });
  const report = writeReport(run);
  command.progress.note(`[report] ${report.markdown}, ${report.html}`);
  return { run, results };
}

function createRun(command: RunCommand): { run: RunDir; config: ExperimentConfig; configDir: string } {
  const overrides = command.shouldReuse ? command.overrides : [...command.overrides, 'reuse.enabled=false'];
  const { config, source, changes } = loadConfig(command.config, overrides);
  const run = new RunDir(command.out ?? join('runs', `${config.name}-seed${config.seed}`));
  run.create();
  const changed = formatChanges(changes);
  command.progress.note(`[run] changed from preset ${source}: ${changed.length === 0 ? 'nothing' : changed.join(', ')}`);
  run.writeJson(run.config, { ...config, _source: source });
  run.writeJson(run.manifest, { ...manifestOf(config, source), overrides, changed_from_preset: changes });
  return { run, config, configDir: dirname(source) };
}

function openForResume(command: RunCommand): { run: RunDir; config: ExperimentConfig; configDir: string | null } {
  if (command.overrides.length > 0) {
    throw new ConfigError('resume_overrides', '--set cannot be combined with --resume: a resumed run keeps its config', {
      hint: 'Drop --set, or start a new run with --out.',
    });
  }
  const run = new RunDir(command.resume!);
  run.assertResumable();
  const { _source: source, ...raw } = run.readJson<Record<string, unknown>>(run.config);
  const resolved = validateConfig(raw, run.config);
  // Reuse never changes results, so --no-reuse may apply to a resumed run without changing its config.
  const config = command.shouldReuse ? resolved : { ...resolved, reuse: { ...resolved.reuse, enabled: false } };
  return { run, config, configDir: typeof source === 'string' ? dirname(source) : null };
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
    model: config.model.kind === 'tiny' ? { kind: 'tiny', ...config.model.tiny } : { kind: 'hf', path: config.model.path },
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: cpus().length,
    started_at: new Date().toISOString(),
  };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: new URL('../../', import.meta.url), stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null; // not a git checkout (an installed package): the version above identifies the code
  }
}

/**
 * The config → dataset-build mapping (the `data/` layer takes plain inputs, not the config), used by
 * `mgsd data build` and by `mgsd run`'s data stage.
 */
import type { BenchmarkRef, DatasetBuildInput } from '../data/build.js';
import { ENV_NAMES } from '../envs/types.js';
import type { ExperimentConfig } from './config.js';

/** Maps an experiment config to the inputs of a dataset build (enabled tasks only). */
export function toBuildInput(config: ExperimentConfig): DatasetBuildInput {
  const tasks: DatasetBuildInput['tasks'] = {};
  for (const name of ENV_NAMES) {
    const task = config.tasks[name];
    if (task === undefined || !task.enabled) continue;
    tasks[name] = {
      levels: [...task.levels],
      perLevel: { ...task.perLevel },
      stratify: task.stratify,
      holeProbability: task.holeProbability,
      minPathLength: task.minPathLength,
    };
  }
  const { renderStyle, imageSizePx } = config.data;
  const benchmarks = config.data.benchmarks.map((ref) => ({ ...ref }));
  const trainOnly = trainOnlyExclusionsOf(config);
  return { seed: config.data.seed, tasks, renderStyle, imageSizePx, benchmarks, ...(trainOnly.length > 0 ? { trainOnlyExclusions: trainOnly } : {}) };
}

/**
 * The `eval.outOfDistribution` files not already in `data.benchmarks`, kept out of the train split
 * (whole files: an evaluated puzzle is never trained on, whatever levels or limit the evaluation
 * keeps). Test and val stay the puzzles of the same config without them — the puzzles a base
 * trained from such a config (`configs/tiny-base.yaml`) kept out of its own training.
 */
function trainOnlyExclusionsOf(config: ExperimentConfig): BenchmarkRef[] {
  const refs: BenchmarkRef[] = [];
  for (const { kind, file } of config.eval.outOfDistribution) {
    const isListed = [...config.data.benchmarks, ...refs].some((ref) => ref.kind === kind && ref.file === file);
    if (!isListed) refs.push({ kind, file, limitPerLevel: 0 });
  }
  return refs;
}

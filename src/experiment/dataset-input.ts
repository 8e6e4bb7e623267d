/**
 * The config → dataset-build mapping (the `data/` layer takes plain inputs, not the config), used by
 * `mgsd data build` and by `mgsd run`'s data stage.
 */
import type { DatasetBuildInput } from '../data/build.js';
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
  return { seed: config.data.seed, tasks, renderStyle, imageSizePx, benchmarks: excludedBenchmarksOf(config) };
}

/**
 * The published files kept out of every split: `data.benchmarks`, then each
 * `eval.outOfDistribution` file not listed there (whole files: an evaluated puzzle must never be
 * trained on, whatever levels or limit the evaluation keeps).
 */
function excludedBenchmarksOf(config: ExperimentConfig): DatasetBuildInput['benchmarks'] {
  const refs = config.data.benchmarks.map((ref) => ({ ...ref }));
  for (const { kind, file } of config.eval.outOfDistribution) {
    if (!refs.some((ref) => ref.kind === kind && ref.file === file)) refs.push({ kind, file, limitPerLevel: 0 });
  }
  return refs;
}

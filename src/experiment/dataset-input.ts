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
  const { renderStyle, imageSizePx, benchmarks } = config.data;
  return { seed: config.data.seed, tasks, renderStyle, imageSizePx, benchmarks: benchmarks.map((ref) => ({ ...ref })) };
}

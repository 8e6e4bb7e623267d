/**
 * Maze: the `EnvSpec` and `EnvPrompts` of the task (rules in `instance.ts`).
 */
import { pathLengthBucket } from '../core/buckets.js';
import type { EnvSpec, MazeInstance } from '../types.js';
import { generateMaze } from './generate.js';
import { checkMazeShape, MAZE_PAPER_LEVELS } from './instance.js';
import { renderMaze } from './render.js';
import { simulateMaze } from './simulate.js';
import { analyzeMaze, solveMaze } from './solve.js';
import { wallDigits } from './text.js';

export { mazePrompts } from './prompts.js';

/** Maze's environment functions. */
export const mazeSpec: EnvSpec<MazeInstance> = {
  name: 'maze',
  paperLevels: MAZE_PAPER_LEVELS,
  hasObjects: false,
  generate: generateMaze,
  validate(instance) {
    checkMazeShape(instance);
    analyzeMaze(instance);
  },
  solve: solveMaze,
  simulate: simulateMaze,
  bucketOf: pathLengthBucket,
  dedupKey: (instance) =>
    `${instance.level}:${wallDigits(instance)}:${instance.start.row},${instance.start.col}:${instance.goal.row},${instance.goal.col}`,
  render: renderMaze,
};

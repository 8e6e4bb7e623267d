/**
 * FrozenLake: the `EnvSpec` and `EnvPrompts` of the task (rules in `instance.ts`).
 */
import { pathLengthBucket } from '../core/buckets.js';
import type { EnvSpec, FrozenLakeInstance } from '../types.js';
import { generateFrozenLake } from './generate.js';
import { checkFrozenLakeShape, FROZENLAKE_PAPER_LEVELS } from './instance.js';
import { renderFrozenLake } from './render.js';
import { simulateFrozenLake } from './simulate.js';
import { analyzeFrozenLake, solveFrozenLake } from './solve.js';

export { frozenLakePrompts } from './prompts.js';

/** FrozenLake's environment functions. */
export const frozenLakeSpec: EnvSpec<FrozenLakeInstance> = {
  name: 'frozenlake',
  paperLevels: FROZENLAKE_PAPER_LEVELS,
  hasObjects: false,
  generate: generateFrozenLake,
  validate(instance) {
    checkFrozenLakeShape(instance);
    analyzeFrozenLake(instance);
  },
  solve: solveFrozenLake,
  simulate: simulateFrozenLake,
  bucketOf: pathLengthBucket,
  dedupKey: (instance) => instance.rows.join('/'),
  render: renderFrozenLake,
};

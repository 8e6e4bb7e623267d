/**
 * MiniBehaviour: the `EnvSpec` and `EnvPrompts` of the task (rules in `instance.ts`).
 */
import { actionCountBucket } from '../core/buckets.js';
import type { EnvSpec, MiniBehaviourInstance } from '../types.js';
import { generateMiniBehaviour } from './generate.js';
import { checkMiniBehaviourShape, MINIBEHAVIOUR_PAPER_LEVELS } from './instance.js';
import { renderMiniBehaviour } from './render.js';
import { simulateMiniBehaviour } from './simulate.js';
import { analyzeMiniBehaviour, solveMiniBehaviour } from './solve.js';

export { miniBehaviourPrompts } from './prompts.js';

/** MiniBehaviour's environment functions. */
export const miniBehaviourSpec: EnvSpec<MiniBehaviourInstance> = {
  name: 'minibehaviour',
  paperLevels: MINIBEHAVIOUR_PAPER_LEVELS,
  hasObjects: true,
  generate: generateMiniBehaviour,
  validate(instance) {
    checkMiniBehaviourShape(instance);
    analyzeMiniBehaviour(instance);
  },
  solve: solveMiniBehaviour,
  simulate: simulateMiniBehaviour,
  bucketOf: actionCountBucket,
  // startDir is left out: it never changes the puzzle.
  dedupKey: (instance) => {
    const { level, start, printer, tableTopLeft: t } = instance;
    return `${level}:${start.row},${start.col}:${printer.row},${printer.col}:${t.row},${t.col}`;
  },
  render: renderMiniBehaviour,
};

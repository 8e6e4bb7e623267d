/**
 * The public face of `envs/`: what the rest of mgsd imports. Keep these exports stable.
 */
export { getEnv, type EnvEntry } from './registry.js';
export { parseAnswer, readoutPrefix, segmentResponse, PLAN_SENTENCE_LEAD } from './core/answer-parser.js';
export { encodePng } from './core/raster.js';
export { decodePng } from './core/png-decode.js';
export { deriveSeed, GENERATOR_VERSION, Rng } from './core/rng.js';
export { gradeFields, sameValue, canonicalValue, type FieldGrade } from './core/perception-fields.js';
export { formatPlanText } from './core/prompt-kit.js';
export { DEFAULT_SIZE_PX, COMPACT_CELL_PX } from './core/canvas.js';
export { ACTION_LETTERS } from './core/grid.js';
export * from './types.js';

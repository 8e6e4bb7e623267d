/**
 * What a run's config means for the two things every stage and evaluation shares: how views are
 * built (prompt profile, rendering, image size) and how responses are graded (the one parser and
 * the simulator's rules).
 */
import type { GradingOptions } from '../rollout/grade.js';
import type { ViewOptions } from '../rollout/views.js';
import type { ExperimentConfig } from './config.js';

/** View options of the run. */
export function viewOptionsOf(config: ExperimentConfig): ViewOptions {
  return { profile: config.profile, renderStyle: config.data.renderStyle, imageSizePx: config.data.imageSizePx };
}

/** Grading options of the run (the one parser's settings and the simulator's rules). */
export function gradingOf(config: ExperimentConfig): GradingOptions {
  return { profile: config.profile, parser: config.parser, rules: { outOfBounds: config.parser.outOfBounds } };
}

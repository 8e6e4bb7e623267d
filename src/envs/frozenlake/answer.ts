/**
 * FrozenLake plans as answers write them: compact move letters (`RRDU`) in both profiles.
 */
import { formatPlanText } from '../core/prompt-kit.js';
import type { Action, PromptProfile } from '../types.js';

/** Writes a plan for an answer block. */
export function formatFrozenLakePlan(plan: readonly Action[], profile: PromptProfile): string {
  return formatPlanText(plan, 'frozenlake', profile);
}

/**
 * MiniBehaviour plans as answers write them: paper `U,PICK,R,R,DROP` (comma-separated), compact
 * letters with P = PICK and X = DROP (`UPRRX`).
 */
import { formatPlanText } from '../core/prompt-kit.js';
import type { Action, PromptProfile } from '../types.js';

/** Writes a plan for an answer block. */
export function formatMiniBehaviourPlan(plan: readonly Action[], profile: PromptProfile): string {
  return formatPlanText(plan, 'minibehaviour', profile);
}

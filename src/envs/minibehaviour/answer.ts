/**
 * MiniBehaviour plans as answers write them: paper `U,PICK,R,R,DROP` (comma-separated), compact
 * letters with P = PICK and X = DROP (`UPRRX`).
 */
import { parseAnswer } from '../core/answer-parser.js';
import { formatPlanText } from '../core/prompt-kit.js';
import type { Action, ParsedAnswer, ParserOptions, PromptProfile } from '../types.js';
import { DEFAULT_PARSER_OPTIONS } from '../types.js';

/** Writes a plan for an answer block. */
export function formatMiniBehaviourPlan(plan: readonly Action[], profile: PromptProfile): string {
  return formatPlanText(plan, 'minibehaviour', profile);
}

/** Reads a MiniBehaviour response with the one parser. */
export function parseMiniBehaviourAnswer(
  text: string,
  profile: PromptProfile,
  options: ParserOptions = DEFAULT_PARSER_OPTIONS,
): ParsedAnswer {
  return parseAnswer(text, 'minibehaviour', profile, options);
}

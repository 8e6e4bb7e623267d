/**
 * FrozenLake plans as answers write them: compact move letters (`RRDU`) in both profiles.
 */
import { parseAnswer } from '../core/answer-parser.js';
import { formatPlanText } from '../core/prompt-kit.js';
import type { Action, ParsedAnswer, ParserOptions, PromptProfile } from '../types.js';
import { DEFAULT_PARSER_OPTIONS } from '../types.js';

/** Writes a plan for an answer block. */
export function formatFrozenLakePlan(plan: readonly Action[], profile: PromptProfile): string {
  return formatPlanText(plan, 'frozenlake', profile);
}

/** Reads a FrozenLake response with the one parser. */
export function parseFrozenLakeAnswer(
  text: string,
  profile: PromptProfile,
  options: ParserOptions = DEFAULT_PARSER_OPTIONS,
): ParsedAnswer {
  return parseAnswer(text, 'frozenlake', profile, options);
}

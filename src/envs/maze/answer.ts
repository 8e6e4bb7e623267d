/**
 * Maze plans as answers write them: compact move letters (`RDDL`) in both profiles.
 */
import { parseAnswer } from '../core/answer-parser.js';
import { formatPlanText } from '../core/prompt-kit.js';
import type { Action, ParsedAnswer, ParserOptions, PromptProfile } from '../types.js';
import { DEFAULT_PARSER_OPTIONS } from '../types.js';

/** Writes a plan for an answer block. */
export function formatMazePlan(plan: readonly Action[], profile: PromptProfile): string {
  return formatPlanText(plan, 'maze', profile);
}

/** Reads a Maze response with the one parser. */
export function parseMazeAnswer(text: string, profile: PromptProfile, options: ParserOptions = DEFAULT_PARSER_OPTIONS): ParsedAnswer {
  return parseAnswer(text, 'maze', profile, options);
}

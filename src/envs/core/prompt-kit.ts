/**
 * Building blocks the three `prompts.ts` share: chat-view assembly, plan formatting and the
 * run-length move phrase of the plan sentence. Task wording lives in each task's `prompts.ts`;
 * only these generic pieces (the plan string and the move phrase such as "right 2, then down 1")
 * are written here, so all tasks format plans identically.
 */
import type { ChatView } from '../../chat.js';
import { image, text } from '../../chat.js';
import type { Action, EnvName, Move, PromptProfile } from '../types.js';
import { ACTION_LETTERS, ACTION_WORDS } from './grid.js';

/** Task marker of the compact profile (one model tells the tasks apart by it). */
export const COMPACT_TASK_MARKER: Readonly<Record<EnvName, string>> = { frozenlake: 'F', maze: 'M', minibehaviour: 'B' };
/** Compact suffix asking for a plan (`F>`) and for a perception read-out (`F?`). */
export const COMPACT_PLAN_SUFFIX = '>';
export const COMPACT_PERCEPTION_SUFFIX = '?';
/** Compact separator between the read-out and the plan. */
export const COMPACT_ANSWER_MARK = '@';
/** Compact prefix of the reference plan line in the teacher view. */
export const COMPACT_REFERENCE_PREFIX = 'R:';

/**
 * A plan as answers write it: paper FrozenLake/Maze `RRDU`; paper MiniBehaviour `U,PICK,R,DROP`;
 * compact letters everywhere (`P` = PICK, `X` = DROP).
 */
export function formatPlanText(plan: readonly Action[], task: EnvName, profile: PromptProfile): string {
  if (profile === 'paper' && task === 'minibehaviour') return plan.map((action) => ACTION_WORDS[action]).join(',');
  return plan.map((action) => ACTION_LETTERS[action]).join('');
}

/** "right 2, down 1, then left 3" for a run of moves (empty string for no moves). */
export function describeMoves(moves: readonly Move[]): string {
  const runs: [Move, number][] = [];
  for (const move of moves) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] === move) last[1] += 1;
    else runs.push([move, 1]);
  }
  const phrases = runs.map(([move, count]) => `${move} ${count}`);
  if (phrases.length <= 1) return phrases.join('');
  return `${phrases.slice(0, -1).join(', ')}, then ${phrases[phrases.length - 1]}`;
}

/** A one-message view: the instructions text, then the image. */
export function imageView(instructions: string): ChatView {
  return [{ role: 'user', content: [text(instructions), image()] }];
}

/** A one-message text-only view. */
export function textView(body: string): ChatView {
  return [{ role: 'user', content: [text(body)] }];
}

/** A system prompt and one user message. */
export function systemView(system: string, user: string): ChatView {
  return [
    { role: 'system', content: [text(system)] },
    { role: 'user', content: [text(user)] },
  ];
}

/** The compact image view: the image, then the task marker and suffix (e.g. `F>`). */
export function compactImageView(task: EnvName, suffix: string): ChatView {
  return [{ role: 'user', content: [image(), text(`${COMPACT_TASK_MARKER[task]}${suffix}`)] }];
}

/** The compact text view: the state, the optional reference plan line, then the marker. */
export function compactTextView(task: EnvName, state: string, referencePlan: string | null): ChatView {
  const reference = referencePlan === null ? '' : `\n${COMPACT_REFERENCE_PREFIX}${referencePlan}`;
  return textView(`${state}${reference}\n${COMPACT_TASK_MARKER[task]}${COMPACT_PLAN_SUFFIX}`);
}

/** The read-out part of a compact response or perception answer (text before the first `@`). */
export function compactReadoutPart(text: string): string {
  const at = text.indexOf(COMPACT_ANSWER_MARK);
  return at < 0 ? text : text.slice(0, at);
}

/** Splits a compact read-out into tokens keyed by their one-letter tag (`N4 S00` → N: '4', S: '00'). */
export function compactTokens(text: string): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const token of compactReadoutPart(text).trim().split(/\s+/)) {
    if (token.length >= 2 && !tokens.has(token[0]!)) tokens.set(token[0]!, token.slice(1));
  }
  return tokens;
}

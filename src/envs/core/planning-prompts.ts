/**
 * The planning prompts every task shares in shape — student (image), text-only student, teacher,
 * target response, read-out, segments, plan format — assembled from one task's wording and
 * formatters. Each `prompts.ts` supplies its words (role, task, rules, output requirements,
 * example, teacher system prompt) and adds its own perception questions.
 */
import type { Action, EnvName, EnvPrompts, Instance, PromptProfile } from '../types.js';
import { segmentResponse } from './answer-parser.js';
import { COMPACT_ANSWER_MARK, COMPACT_PLAN_SUFFIX, compactImageView, compactTextView, imageView, systemView, textView } from './prompt-kit.js';

/** One task's wording and formatters. */
export interface PlanningPromptParts<I extends Instance> {
  task: EnvName;
  /** Paper-profile texts, joined with blank lines in this order: role, task, rules, output, example. */
  role: string;
  imageTask: string;
  textTask: string;
  rules: string;
  output: string;
  example: string;
  teacherSystem: string;
  /** What the puzzle is called in "Now solve this …:" and "… puzzle:" (e.g. `maze`, `Maze`). */
  solveNoun: string;
  puzzleTitle: string;
  symbolicState(instance: I): string;
  compactState(instance: I): string;
  paperReadout(instance: I): string;
  compactReadout(instance: I): string;
  planSentence(plan: readonly Action[]): string;
  formatPlan(plan: readonly Action[], profile: PromptProfile): string;
}

/** The views and formats of a task's planning prompts. */
export type PlanningPrompts<I extends Instance> = Omit<EnvPrompts<I>, 'perception' | 'parsePerception'>;

/** Builds the shared prompts from `parts`. */
export function planningPrompts<I extends Instance>(parts: PlanningPromptParts<I>): PlanningPrompts<I> {
  const instructions = (task: string): string => [parts.role, task, parts.rules, parts.output, parts.example].join('\n\n');
  const solve = `Now solve this ${parts.solveNoun}:`;
  return {
    studentView(_instance, profile) {
      if (profile === 'compact') return compactImageView(parts.task, COMPACT_PLAN_SUFFIX);
      return imageView(`${instructions(parts.imageTask)}\n\n${solve}`);
    },
    textStudentView(instance, profile) {
      if (profile === 'compact') return compactTextView(parts.task, parts.compactState(instance), null);
      return textView(`${instructions(parts.textTask)}\n\n${solve}\n${parts.symbolicState(instance)}`);
    },
    teacherView(instance, profile, referencePlan) {
      const plan = referencePlan === null ? null : parts.formatPlan(referencePlan, profile);
      if (profile === 'compact') return compactTextView(parts.task, parts.compactState(instance), plan);
      const reference = plan === null ? '' : `\nReference action plan: ${plan}`;
      return systemView(
        parts.teacherSystem,
        `${parts.puzzleTitle} puzzle:\n${parts.symbolicState(instance)}${reference}\n\nWrite your response now, following the output requirements.`,
      );
    },
    targetResponse(instance, profile, plan) {
      if (profile === 'compact') return `${parts.compactReadout(instance)}${COMPACT_ANSWER_MARK}${parts.formatPlan(plan, profile)}`;
      return `${parts.paperReadout(instance)}\n${parts.planSentence(plan)}\n<answer>${parts.formatPlan(plan, profile)}</answer>`;
    },
    answerResponse(plan, profile) {
      const answer = parts.formatPlan(plan, profile);
      return profile === 'compact' ? `${COMPACT_ANSWER_MARK}${answer}` : `<answer>${answer}</answer>`;
    },
    readout(instance, profile) {
      return profile === 'compact' ? parts.compactReadout(instance) : parts.paperReadout(instance);
    },
    segments: (response, profile) => segmentResponse(response, profile),
    formatPlan: (plan, profile) => parts.formatPlan(plan, profile),
  };
}

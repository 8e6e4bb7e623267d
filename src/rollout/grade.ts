/**
 * Grading one response against one dataset record: the one answer parser reads the plan, the
 * task's simulator grades it. Nothing is string-matched against a reference plan, so every
 * optimal plan counts as optimal.
 *
 * A response the parser cannot read is graded `no_answer` at step 0 without simulation.
 */
import type { DataRecord } from '../data/schema.js';
import { getEnv, parseAnswer } from '../envs/index.js';
import type { Action, EnvName, FailureKind, Instance, ParserOptions, PromptProfile, SimulationRules } from '../envs/types.js';

/** What aggregation needs from one graded response. */
export interface GradedSample {
  task: EnvName;
  level: number;
  /** The parser found a plan. */
  parsed: boolean;
  success: boolean;
  optimalSuccess: boolean;
  /** Why it failed (null on success). */
  failure: FailureKind | null;
}

/** How responses are read and graded (`profile`, `parser.*` of the config). */
export interface GradingOptions {
  profile: PromptProfile;
  parser: ParserOptions;
  rules: SimulationRules;
}

/** The grade of one response, with what `mgsd score --out` reports. */
export interface GradedResponse extends GradedSample {
  id: string;
  split: DataRecord['split'];
  bucket: DataRecord['bucket'];
  /** Step (0-based) of the first failure, null on success. */
  failureStep: number | null;
  /** Actions executed up to success or failure. */
  steps: number;
  optimalLength: number;
  progressRate: number;
  /** The plan the parser read. */
  actions: Action[];
  /** Tokens the parser did not understand. */
  invalidTokens: string[];
}

/** Grades `response` for `record`. */
export function gradeResponse(record: DataRecord, response: string, options: GradingOptions): GradedResponse {
  const base = { id: record.id, task: record.task, level: record.level, split: record.split, bucket: record.bucket };
  const optimalLength = record.solution.optimalLength;
  const answer = parseAnswer(response, record.task, options.profile, options.parser);
  if (!answer.parsed) {
    return {
      ...base,
      parsed: false,
      success: false,
      optimalSuccess: false,
      failure: 'no_answer' satisfies FailureKind,
      failureStep: 0,
      steps: 0,
      optimalLength,
      progressRate: 0,
      actions: answer.actions,
      invalidTokens: answer.invalidTokens,
    };
  }
  const result = getEnv(record.task).spec.simulate(record.instance as Instance, answer.actions, options.rules);
  return {
    ...base,
    parsed: true,
    success: result.success,
    optimalSuccess: result.optimalSuccess,
    failure: result.failure?.kind ?? null,
    failureStep: result.failure?.step ?? null,
    steps: result.stepsExecuted,
    optimalLength,
    progressRate: result.progressRate,
    actions: answer.actions,
    invalidTokens: answer.invalidTokens,
  };
}

/** The `--out` line of `mgsd score` (snake_case keys, stable order). */
export function toScoreLine(graded: GradedResponse): Record<string, unknown> {
  return {
    id: graded.id,
    task: graded.task,
    level: graded.level,
    split: graded.split,
    bucket: graded.bucket,
    parsed: graded.parsed,
    success: graded.success,
    optimal_success: graded.optimalSuccess,
    failure: graded.failure,
    failure_step: graded.failureStep,
    steps: graded.steps,
    optimal_length: graded.optimalLength,
    progress_rate: graded.progressRate,
    actions: graded.actions,
    invalid_tokens: graded.invalidTokens,
  };
}

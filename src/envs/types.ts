/**
 * The vocabulary shared by the three planning tasks, and the `EnvSpec` contract each implements.
 *
 * Conventions (every module under `envs/` follows them):
 * - A grid of level N is N×N cells; positions are 0-based `{row, col}` with row 0 at the top.
 * - Moves are `up` (−1,0), `down` (+1,0), `left` (0,−1), `right` (0,+1); MiniBehaviour adds
 *   `pick` and `drop`. Their one-letter forms are `U D L R` (prompts and answers).
 * - Instances are plain JSON-serialisable objects; everything else (solution, text, image,
 *   questions) is derived from them by pure, deterministic functions.
 * - `envs/` performs no I/O and imports nothing else from `src/` except the leaf modules
 *   `errors.ts` and `chat.ts`.
 */
import type { ChatView } from '../chat.js';

/** The three tasks, spelled the same way everywhere (folders, config, CLI, files). */
export const ENV_NAMES = ['frozenlake', 'maze', 'minibehaviour'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/** A grid cell, 0-based, row 0 at the top. */
export interface Pos {
  row: number;
  col: number;
}

export type Move = 'up' | 'down' | 'left' | 'right';
export type Action = Move | 'pick' | 'drop';

/** FrozenLake: `rows` are N strings over S (start), F (frozen), H (hole), G (goal). */
export interface FrozenLakeInstance {
  task: 'frozenlake';
  level: number;
  rows: string[];
}

/**
 * Maze: a perfect maze. `walls[row][col]` is a 4-bit mask of closed sides
 * (N=1, S=2, W=4, E=8, as the official generator writes); borders are always closed and
 * neighbouring cells agree about the wall between them.
 */
export interface MazeInstance {
  task: 'maze';
  level: number;
  walls: number[][];
  start: Pos;
  goal: Pos;
}

/**
 * MiniBehaviour: an N×N floor (no wall ring) with a 2-row × 3-column table whose top-left cell is
 * `tableTopLeft`, a printer cell, and the agent's start. `startDir` (0 east, 1 south, 2 west,
 * 3 north) only orients the drawn agent; it never changes the rules.
 */
export interface MiniBehaviourInstance {
  task: 'minibehaviour';
  level: number;
  start: Pos;
  startDir: 0 | 1 | 2 | 3;
  printer: Pos;
  tableTopLeft: Pos;
}

export type Instance = FrozenLakeInstance | MazeInstance | MiniBehaviourInstance;
export type InstanceOf<N extends EnvName> = Extract<Instance, { task: N }>;

/** Difficulty bucket by optimal plan length (thresholds per task, as the official generators). */
export type Bucket = 'easy' | 'medium' | 'hard';

/** What the exact solver knows about an instance. */
export interface Solution {
  /** Number of actions of a shortest successful plan (PICK and DROP count as actions). */
  optimalLength: number;
  /** Number of distinct optimal action sequences, capped at `OPTIMAL_PLAN_COUNT_CAP`. */
  numOptimalPlans: number;
  /** One optimal plan, chosen by a fixed, documented tie-break (never used for grading). */
  plan: Action[];
}

/** Counting optimal plans stops here; the count is then a lower bound. */
export const OPTIMAL_PLAN_COUNT_CAP = 1_000_000;

/** Why a plan failed, at the first step where it did. */
export type FailureKind =
  | 'fell_into_hole' // FrozenLake: stepped onto H
  | 'out_of_bounds' // left the grid (when `outOfBounds: 'fail'`)
  | 'crossed_wall' // Maze: moved through a closed side
  | 'entered_table' // MiniBehaviour: stepped onto a table cell
  | 'entered_printer' // MiniBehaviour: stepped onto the printer before picking it up
  | 'pick_invalid' // MiniBehaviour: PICK while carrying or not next to the printer
  | 'drop_invalid' // MiniBehaviour: DROP while not carrying or not next to the table
  | 'action_not_allowed' // PICK/DROP in a task without them
  | 'goal_not_reached' // every action was legal but the goal was never reached
  | 'no_answer'; // the response held no parsable plan

/** How a plan is graded where sources disagree (DESIGN.md §2; defaults = MGSD's benchmark). */
export interface SimulationRules {
  /** A move off the grid: `fail` ends the episode (MGSD benchmark), `stay` is a no-op (gym, MGSD training reward). */
  outOfBounds: 'fail' | 'stay';
}

export const DEFAULT_SIMULATION_RULES: SimulationRules = { outOfBounds: 'fail' };

/** The grade of one plan. Actions after success are ignored. */
export interface SimulationResult {
  success: boolean;
  /** Success in exactly `optimalLength` executed actions. */
  optimalSuccess: boolean;
  /** Actions executed up to success or failure (ignored trailing actions not counted). */
  stepsExecuted: number;
  failure: { kind: FailureKind; step: number } | null;
  /**
   * Progress rate (VPRL): the longest prefix of actions each of which lowers the remaining optimal
   * cost by exactly one, divided by `optimalLength`. 1 for every optimal plan.
   */
  progressRate: number;
  /** Cells visited, starting with the start cell (for drawing predicted paths). */
  trajectory: Pos[];
}

/** Which family of prompts and formats to use (DESIGN.md §3). */
export type PromptProfile = 'paper' | 'compact';

/** Image styles: `paper` looks like the official renders; `compact` is one 8-px patch per cell. */
export type RenderStyle = 'paper' | 'compact';

/** An RGB image, row-major, 3 bytes per pixel. */
export interface Raster {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export interface RenderOptions {
  style: RenderStyle;
  /** Side of the square output image in pixels (paper default 256; compact default 40). */
  sizePx: number;
  /** Optional path to draw over the image (e.g. a model's predicted trajectory). */
  path?: Pos[];
}

/** One perception field's value; sets of cells are compared as sets. */
export type PerceptionValue = string | number | Pos | Pos[] | string[] | Record<string, string[]>;

/** The perception question(s) for an instance and the exact expected answer. */
export interface PerceptionItem {
  /** The prompt shown with the image. */
  view: ChatView;
  /** The target answer text (SFT target). */
  answer: string;
  /** The ground-truth fields, for per-field grading. */
  fields: Record<string, PerceptionValue>;
}

/** Everything one task provides. All functions are pure and deterministic. */
export interface EnvSpec<I extends Instance = Instance> {
  readonly name: I['task'];
  /** Levels the official code uses (paper presets); generators may accept others. */
  readonly paperLevels: readonly number[];
  /** Whether the task has PICK/DROP. */
  readonly hasObjects: boolean;

  /** Draws a solvable instance from `seed` (a 32-bit unsigned integer). */
  generate(level: number, seed: number, options: GenerateOptions): I;
  /** Checks an instance (e.g. an imported one); throws `EnvError` naming the problem. */
  validate(instance: I): void;
  /** Exact BFS solution; throws `EnvError` if unsolvable. */
  solve(instance: I): Solution;
  /** Grades any plan. */
  simulate(instance: I, actions: readonly Action[], rules?: SimulationRules): SimulationResult;
  /** The difficulty bucket of an optimal length at a level. */
  bucketOf(level: number, optimalLength: number): Bucket;
  /** Canonical dedup key: equal iff the instances are the same puzzle. */
  dedupKey(instance: I): string;
  /** Renders the instance. */
  render(instance: I, options: RenderOptions): Raster;
}

/** Generator knobs shared by the tasks (each task reads the ones that apply to it). */
export interface GenerateOptions {
  /** Ask for an instance in this bucket (round-robin by index in dataset builds); null = natural. */
  bucket: Bucket | null;
  /** FrozenLake: probability that a non-start, non-goal cell is a hole. */
  holeProbability?: number;
  /** FrozenLake: minimum optimal plan length. */
  minPathLength?: number;
}

/**
 * How the one answer parser reads a response (DESIGN.md §2). Defaults follow MGSD's benchmark
 * evaluator: the last answer block; without a tag the whole response is read.
 */
export interface ParserOptions {
  /** Which answer block counts when there are several. */
  block: 'first' | 'last';
  /** If true, a response without an answer block has no plan (MGSD's training reward). */
  requireTag: boolean;
  /** Unknown tokens inside the block: `fail` makes the plan unparsed, `skip` ignores them. */
  unknownTokens: 'fail' | 'skip';
}

export const DEFAULT_PARSER_OPTIONS: ParserOptions = {
  block: 'last',
  requireTag: false,
  unknownTokens: 'fail',
};

/** What the parser found in a response. */
export interface ParsedAnswer {
  /** True when an answer block (or the whole text, when allowed) gave a non-empty valid plan. */
  parsed: boolean;
  actions: Action[];
  /** Tokens that were not actions (reported whether or not they made parsing fail). */
  invalidTokens: string[];
  /** True when an explicit answer block was found. */
  hasTag: boolean;
}

/** Character ranges `[start, end)` of the parts of a response, for per-segment logging. */
export interface ResponseSegments {
  /** The state read-out (perception statement). */
  readout: [number, number];
  /** The plan sentence (empty range in the compact profile). */
  plan: [number, number];
  /** The answer block, tags included. */
  answer: [number, number];
}

/** Every string a model sees for one task, for both profiles (DESIGN.md §3). */
export interface EnvPrompts<I extends Instance = Instance> {
  /** The visual student's prompt: instructions and the image (no system message). */
  studentView(instance: I, profile: PromptProfile): ChatView;
  /** The same planning prompt with the symbolic state as text instead of the image. */
  textStudentView(instance: I, profile: PromptProfile): ChatView;
  /** The frozen teacher's prompt: system prompt + symbolic context, optionally the reference plan. */
  teacherView(instance: I, profile: PromptProfile, referencePlan: readonly Action[] | null): ChatView;
  /** The full target response for `plan`: state read-out, plan sentence, answer block. */
  targetResponse(instance: I, profile: PromptProfile, plan: readonly Action[]): string;
  /** The answer block alone (`@RRDD`, `<answer>RRDD</answer>`): the target of direct-answer SFT. */
  answerResponse(plan: readonly Action[], profile: PromptProfile): string;
  /** The state read-out that opens every target response (the cold-start SFT target). */
  readout(instance: I, profile: PromptProfile): string;
  /** Perception question(s) and answer for the held-out perception eval and the SFT stage. */
  perception(instance: I, profile: PromptProfile): PerceptionItem;
  /** Reads perception fields back from a model's answer (or a read-out); missing fields are absent. */
  parsePerception(text: string, profile: PromptProfile): Record<string, PerceptionValue>;
  /** Splits a response into read-out / plan sentence / answer. */
  segments(response: string, profile: PromptProfile): ResponseSegments;
  /** Writes a plan the way answers are written in `profile`. */
  formatPlan(plan: readonly Action[], profile: PromptProfile): string;
}

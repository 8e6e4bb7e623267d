/**
 * Every string a model sees for Maze, in both profiles (DESIGN.md §3).
 *
 * `paper`: the official structure (role, task, colour legend, rules, output requirements,
 * example), read-out = size, player, goal and the open directions of every cell, then one `Plan:`
 * sentence and `<answer>RDDL</answer>`. `compact`: `M>` after the image or after the hex state;
 * the response is `N3 S00 G22 W<one hex wall mask per cell>@RDDL`.
 */
import { DIRECTION_ORDER, formatCompactPos, formatPos, isMove } from '../core/grid.js';
import {
  cellKey,
  readCompactFields,
  readCompactPos,
  readCompactSize,
  readPaperFields,
  readPosition,
  readSize,
} from '../core/perception-fields.js';
import { planningPrompts } from '../core/planning-prompts.js';
import {
  COMPACT_PERCEPTION_SUFFIX,
  compactImageView,
  compactTokens,
  describeMoves,
  imageView,
} from '../core/prompt-kit.js';
import type { Action, EnvPrompts, MazeInstance, PerceptionValue } from '../types.js';
import { formatMazePlan } from './answer.js';
import { openDirections } from './instance.js';
import { compactMazeState, openDirectionTable, wallDigits } from './text.js';

const ROLE = 'You are a Maze solver.';

const RULES = `Rules:
- Valid actions: L (left), D (down), R (right), U (up). Each action moves the player one cell.
- The player can only pass through open sides; a move into a wall, including the outer border, ends the attempt as a failure.
- Positions are written (row,column), 0-based: row 0 is the top row and column 0 the left column.
- Keep your reasoning brief.`;

const OUTPUT = `Output requirements:
1. First state what you perceive: the map size, the player and goal positions, and a table giving the open directions of every cell, one line per cell as (row,column): directions, listed in the order up, right, down, left.
2. Then write exactly one short sentence that starts with "Plan:", naming the route and confirming that it only uses open sides.
3. Do not narrate the moves one by one.
4. End with exactly one <answer>...</answer> holding the moves as one compact string, for example <answer>DDRUR</answer>.`;

const EXAMPLE = `Example format (a 2x2 maze):
Map size: 2x2
Player: (0,0)
Goal: (1,1)
Open directions:
(0,0): right
(0,1): down, left
(1,0): right
(1,1): up, left
${planSentence(['right', 'down'])}
<answer>RD</answer>`;

const IMAGE_TASK = `Task: the image shows a maze seen from above. Move the player to the goal through the corridors, using as few moves as possible.

How to read the image: the yellow disc is the player, the blue disc is the goal, white areas are corridors, and black bands are walls. A thin light-grey line across a corridor only marks the boundary between two cells; it is not a wall.`;

const TEXT_TASK = `Task: the maze below is given as text. Move the player to the goal through the corridors, using as few moves as possible.

How to read the text: every cell lists the directions in which its sides are open; every side not listed is a wall.`;

const TEACHER_SYSTEM = `You are a Maze text-only planning teacher.

Each user message gives one maze as symbolic text: the map size, the player's start, the goal, and the open directions of every cell (up, right, down, left order; unlisted sides are walls), followed, when one is available, by a reference action plan that is known to be optimal. Work from this text alone: never refer to images, and never mention that a reference plan was given.

${RULES}

${OUTPUT}

${EXAMPLE}`;

function header(instance: MazeInstance, playerLabel: string): string {
  return `Map size: ${instance.level}x${instance.level}\n${playerLabel}: ${formatPos(instance.start)}\nGoal: ${formatPos(instance.goal)}`;
}

function symbolicState(instance: MazeInstance): string {
  return `${header(instance, 'Player start')}\nOpen directions per cell (up, right, down, left order; unlisted sides are walls):\n${openDirectionTable(instance)}`;
}

function paperReadout(instance: MazeInstance): string {
  return `${header(instance, 'Player')}\nOpen directions:\n${openDirectionTable(instance)}`;
}

function compactReadout(instance: MazeInstance): string {
  return `N${instance.level} S${formatCompactPos(instance.start)} G${formatCompactPos(instance.goal)} W${wallDigits(instance)}`;
}

function planSentence(plan: readonly Action[]): string {
  return `Plan: move ${describeMoves(plan.filter(isMove))}; every move passes through an open side and the last one reaches the goal.`;
}

function legalFromPlayer(instance: MazeInstance): string[] {
  return openDirections(instance.walls[instance.start.row]![instance.start.col]!);
}

const PERCEPTION_QUESTIONS = `Colour guide: yellow = player, blue = goal, white = corridors, black = walls.
Look at the maze image and answer every question below. Reply with one numbered answer per question, in the same order.
1. What is the map size? Answer as NxN.
2. Where is the player? Answer as (row,column), 0-based, with row 0 at the top.
3. Where is the goal? Answer as (row,column).
4. Which directions are open in every cell? Give one line per cell, row by row, as (row,column): directions, listing open directions in the order up, right, down, left.
5. Which actions can the player take from its current cell? List the directions (up, right, down, left order), separated by commas.`;

function directionMap(instance: MazeInstance): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  instance.walls.forEach((row, r) => row.forEach((mask, c) => (map[cellKey({ row: r, col: c })] = openDirections(mask))));
  return map;
}

function readDirectionWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[\s,;]+/)
    .filter((word): word is string => (DIRECTION_ORDER as readonly string[]).includes(word));
}

function readDirectionTable(text: string): Record<string, string[]> | undefined {
  const map: Record<string, string[]> = {};
  for (const match of text.matchAll(/\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*:([^\n]*)/g)) {
    map[`${Number(match[1])},${Number(match[2])}`] = readDirectionWords(match[3] ?? '');
  }
  return Object.keys(map).length === 0 ? undefined : map;
}

function parsePaperPerception(text: string): Record<string, PerceptionValue> {
  return readPaperFields(text, [
    { field: 'size', section: 1, label: 'Map size', read: readSize },
    { field: 'player', section: 2, label: 'Player', read: readPosition },
    { field: 'goal', section: 3, label: 'Goal', read: readPosition },
    { field: 'openDirections', section: 4, label: 'Open directions', read: readDirectionTable },
    { field: 'legalActions', section: 5, read: readDirectionWords },
  ]);
}

function parseCompactPerception(text: string): Record<string, PerceptionValue> {
  return readCompactFields(compactTokens(text), [
    { field: 'size', tag: 'N', read: readCompactSize },
    { field: 'player', tag: 'S', read: readCompactPos },
    { field: 'goal', tag: 'G', read: readCompactPos },
    { field: 'openDirections', tag: 'W', read: (digits, fields) => readWallDigits(digits, fields.size) },
  ]);
}

/** One hex wall-mask digit per cell, row-major, for a grid of side `size`. */
function readWallDigits(digits: string, size: PerceptionValue | undefined): Record<string, string[]> | undefined {
  if (typeof size !== 'number' || !/^[0-9a-f]+$/.test(digits) || digits.length !== size * size) return undefined;
  const map: Record<string, string[]> = {};
  [...digits].forEach((digit, i) => (map[`${Math.floor(i / size)},${i % size}`] = openDirections(parseInt(digit, 16))));
  return map;
}

const PLANNING = planningPrompts<MazeInstance>({
  task: 'maze',
  role: ROLE,
  imageTask: IMAGE_TASK,
  textTask: TEXT_TASK,
  rules: RULES,
  output: OUTPUT,
  example: EXAMPLE,
  teacherSystem: TEACHER_SYSTEM,
  solveNoun: 'maze',
  puzzleTitle: 'Maze',
  symbolicState,
  compactState: compactMazeState,
  paperReadout,
  compactReadout,
  planSentence,
  formatPlan: formatMazePlan,
});

/** Maze's prompts and formats. */
export const mazePrompts: EnvPrompts<MazeInstance> = {
  ...PLANNING,
  perception(instance, profile) {
    const base: Record<string, PerceptionValue> = {
      size: instance.level,
      player: instance.start,
      goal: instance.goal,
      openDirections: directionMap(instance),
    };
    if (profile === 'compact') {
      return { view: compactImageView('maze', COMPACT_PERCEPTION_SUFFIX), answer: compactReadout(instance), fields: base };
    }
    const legal = legalFromPlayer(instance);
    const answer = [
      `1. ${instance.level}x${instance.level}`,
      `2. ${formatPos(instance.start)}`,
      `3. ${formatPos(instance.goal)}`,
      `4.\n${openDirectionTable(instance)}`,
      `5. ${legal.length === 0 ? 'none' : legal.join(', ')}`,
    ].join('\n');
    return { view: imageView(PERCEPTION_QUESTIONS), answer, fields: { ...base, legalActions: legal } };
  },
  parsePerception(text, profile) {
    return profile === 'compact' ? parseCompactPerception(text) : parsePaperPerception(text);
  },
};

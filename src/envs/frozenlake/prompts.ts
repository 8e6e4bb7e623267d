/**
 * Every string a model sees for FrozenLake, in both profiles (DESIGN.md §3).
 *
 * `paper` keeps the official structure and output contract (role, task, legend, rules, output
 * requirements, example; the read-out first, one `Plan:` sentence, one `<answer>` block of move
 * letters) in our own words. `compact` is the tiny model's format: `F>` after the image (or after
 * the `N4\nSFFH…` text state, with `R:<plan>` for the teacher); the response is
 * `N4 S00 G33 H11,22@RRDD` (coordinates as two hex digits, `H-` for no holes).
 */
import { formatCompactPos, formatPos, isMove, sortCells } from '../core/grid.js';
import {
  readCompactFields,
  readCompactPos,
  readCompactSize,
  readPaperFields,
  readPosition,
  readPositions,
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
import type { Action, EnvPrompts, FrozenLakeInstance, PerceptionValue, Pos, PromptProfile } from '../types.js';
import { formatFrozenLakePlan } from './answer.js';
import { layoutOf } from './instance.js';
import { compactFrozenLakeState, frozenLakeTextMap } from './text.js';

const ROLE = 'You are a FrozenLake solver.';

const RULES = `Rules:
- Valid actions: L (left), D (down), R (right), U (up). Each action moves the player exactly one tile.
- The ice is not slippery: a move always goes where it points.
- Entering a hole (H) ends the attempt as a failure, and so does moving off the edge of the map.
- Positions are written (row,column), 0-based: row 0 is the top row and column 0 the left column.
- Keep your reasoning brief.`;

const OUTPUT = `Output requirements:
1. First state what you perceive: the map size, the player and goal positions, and every hole (H) tile.
2. Then write exactly one short sentence that starts with "Plan:", naming the route and confirming it misses every hole.
3. Do not narrate the moves one by one.
4. End with exactly one <answer>...</answer> holding the moves as one compact string, for example <answer>RRDD</answer>.`;

const EXAMPLE = `Example format (a 4x4 map):
Map size: 4x4
Player: (2,0)
Goal: (0,1)
Holes: (1,1), (3,3)
${planSentence(['up', 'up', 'right'])}
<answer>UUR</answer>`;

const IMAGE_TASK = `Task: the image shows a FrozenLake map. Move the player from its tile to the goal across frozen tiles, never entering a hole, using as few moves as possible.

How to read the image: the small green-clad figure stands on the player's tile, the red gift box is the goal, dark round pits are holes, and every other pale tile is safe frozen ice. Thin light-blue lines separate the tiles.`;

const TEXT_TASK = `Task: the map below is a FrozenLake puzzle given as text. Move the player from its tile to the goal across frozen tiles, never entering a hole, using as few moves as possible.

How to read the text: the text map has one line per row, row 0 first; S is the player's start, G the goal, H a hole and F safe frozen ice.`;

const TEACHER_SYSTEM = `You are a FrozenLake text-only planning teacher.

Each user message gives one FrozenLake puzzle as symbolic text: the map size, the player's start, the goal, the list of holes, and a text map with one line per row (S start, F frozen, H hole, G goal), followed, when one is available, by a reference action plan that is known to be optimal. Work from this text alone: never refer to images, and never mention that a reference plan was given.

${RULES}

${OUTPUT}

${EXAMPLE}`;

function holesText(instance: FrozenLakeInstance): string {
  const holes = layoutOf(instance).holes;
  return holes.length === 0 ? 'none' : holes.map(formatPos).join(', ');
}

/** The labelled symbolic state (teacher context and text-only student). */
function symbolicState(instance: FrozenLakeInstance): string {
  const { start, goal } = layoutOf(instance);
  return `Map size: ${instance.level}x${instance.level}
Player start: ${formatPos(start)}
Goal: ${formatPos(goal)}
Holes: ${holesText(instance)}
Text map (S start, F frozen, H hole, G goal; row 0 first):
${frozenLakeTextMap(instance)}`;
}

function paperReadout(instance: FrozenLakeInstance): string {
  const { start, goal } = layoutOf(instance);
  return `Map size: ${instance.level}x${instance.level}
Player: ${formatPos(start)}
Goal: ${formatPos(goal)}
Holes: ${holesText(instance)}`;
}

function compactReadout(instance: FrozenLakeInstance): string {
  const { start, goal, holes } = layoutOf(instance);
  const holeList = holes.length === 0 ? '-' : holes.map(formatCompactPos).join(',');
  return `N${instance.level} S${formatCompactPos(start)} G${formatCompactPos(goal)} H${holeList}`;
}

function planSentence(plan: readonly Action[]): string {
  const moves = plan.filter(isMove);
  return `Plan: move ${describeMoves(moves)}; this route stays on frozen tiles, misses every hole, and ends on the goal.`;
}

const PERCEPTION_QUESTIONS = `Look at the FrozenLake image and answer every question below. Reply with one numbered answer per question, in the same order.
1. What is the map size? Answer as NxN.
2. Where is the player? Answer as (row,column), 0-based, with row 0 at the top.
3. Where is the goal? Answer as (row,column).
4. Where are all the holes? List every hole as (row,column), separated by commas, or answer none.`;

function perceptionFields(instance: FrozenLakeInstance): Record<string, PerceptionValue> {
  const { start, goal, holes } = layoutOf(instance);
  return { size: instance.level, player: start, goal, holes };
}

function parsePaperPerception(text: string): Record<string, PerceptionValue> {
  return readPaperFields(text, [
    { field: 'size', section: 1, label: 'Map size', read: readSize },
    { field: 'player', section: 2, label: 'Player', read: readPosition },
    { field: 'goal', section: 3, label: 'Goal', read: readPosition },
    { field: 'holes', section: 4, label: 'Holes', read: (holes) => (/\bnone\b/i.test(holes) ? [] : sortCells(readPositions(holes))) },
  ]);
}

function parseCompactPerception(text: string): Record<string, PerceptionValue> {
  return readCompactFields(compactTokens(text), [
    { field: 'size', tag: 'N', read: readCompactSize },
    { field: 'player', tag: 'S', read: readCompactPos },
    { field: 'goal', tag: 'G', read: readCompactPos },
    { field: 'holes', tag: 'H', read: readCompactHoles },
  ]);
}

/** `-` (no holes) or a comma list of compact cells; undefined if any cell is unreadable. */
function readCompactHoles(text: string): Pos[] | undefined {
  if (text === '-') return [];
  const cells = text.split(',').map(readCompactPos);
  return cells.every((cell) => cell !== undefined) ? (cells as Pos[]) : undefined;
}

const PLANNING = planningPrompts<FrozenLakeInstance>({
  task: 'frozenlake',
  role: ROLE,
  imageTask: IMAGE_TASK,
  textTask: TEXT_TASK,
  rules: RULES,
  output: OUTPUT,
  example: EXAMPLE,
  teacherSystem: TEACHER_SYSTEM,
  solveNoun: 'FrozenLake map',
  puzzleTitle: 'FrozenLake',
  symbolicState,
  compactState: compactFrozenLakeState,
  paperReadout,
  compactReadout,
  planSentence,
  formatPlan: formatFrozenLakePlan,
});

/** FrozenLake's prompts and formats. */
export const frozenLakePrompts: EnvPrompts<FrozenLakeInstance> = {
  ...PLANNING,
  perception(instance, profile: PromptProfile) {
    const fields = perceptionFields(instance);
    if (profile === 'compact') {
      return { view: compactImageView('frozenlake', COMPACT_PERCEPTION_SUFFIX), answer: compactReadout(instance), fields };
    }
    const { start, goal } = layoutOf(instance);
    const answer = `1. ${instance.level}x${instance.level}\n2. ${formatPos(start)}\n3. ${formatPos(goal)}\n4. ${holesText(instance)}`;
    return { view: imageView(PERCEPTION_QUESTIONS), answer, fields };
  },
  parsePerception(text, profile) {
    return profile === 'compact' ? parseCompactPerception(text) : parsePaperPerception(text);
  },
};

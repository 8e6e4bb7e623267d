/**
 * Every string a model sees for MiniBehaviour, in both profiles (DESIGN.md §3).
 *
 * `paper`: the official structure, with the colour legend the renderer really uses (red agent,
 * white printer, tan table, black floor — the official eval/API prompts swapped agent and printer;
 * we do not). Read-out = grid size, agent, printer, table cells; then one `Plan:` sentence and
 * `<answer>U,PICK,R,R,DROP</answer>`. `compact`: `B>` after the image or after the `. T P A`
 * grid; the response is `N5 A21 P11 T31@UPRRX` (T = the table's top-left cell, P = PICK,
 * X = DROP).
 */
import { DIRECTION_ORDER, formatCompactPos, formatPos, isMove, samePos, sortCells, stepPos, inBounds } from '../core/grid.js';
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
import type { Action, EnvPrompts, MiniBehaviourInstance, Move, PerceptionValue, Pos } from '../types.js';
import { formatMiniBehaviourPlan } from './answer.js';
import { isTableCell, printerNeighbours, tableCells, tableNeighbours } from './instance.js';
import { compactMiniBehaviourState, miniBehaviourGrid } from './text.js';

const ROLE = 'You are a MiniBehaviour solver.';

const RULES = `Rules:
- Valid actions: L (left), D (down), R (right), U (up), PICK and DROP. Each move goes one cell; PICK and DROP do not move the agent.
- The table cells are always blocked. The printer cell is blocked until the printer has been picked up, and can be crossed afterwards.
- PICK works only while the agent carries nothing and stands directly next to the printer (up, down, left or right of it).
- DROP works only while the agent carries the printer and stands directly next to any table cell; the first valid DROP completes the task.
- Any invalid action, or a move off the grid, ends the attempt as a failure.
- Positions are written (row,column), 0-based: row 0 is the top row and column 0 the left column.
- Keep your reasoning brief.`;

const OUTPUT = `Output requirements:
1. First state what you perceive: the grid size, the agent's position, the printer's position, and every table cell.
2. Then write exactly one short sentence that starts with "Plan:", naming the route to the printer and on to the table.
3. Do not narrate the moves one by one.
4. End with exactly one <answer>...</answer> holding the actions separated by commas, for example <answer>L,L,PICK,D,D,R,DROP</answer>.`;

const EXAMPLE = `Example format (a 5x5 grid):
Grid size: 5x5
Agent: (3,0)
Printer: (1,0)
Table: (3,2), (3,3), (3,4), (4,2), (4,3), (4,4)
${planSentence(['up', 'pick', 'right', 'right', 'drop'])}
<answer>U,PICK,R,R,DROP</answer>`;

const IMAGE_TASK = `Task: the image shows a room seen from above. The agent must pick up the printer and put it down next to the table, using as few actions as possible.

How to read the image: the red triangle is the agent, the white icon is the printer, the tan cells form the table (2 rows by 3 columns), and black cells are free floor. Grey lines separate the cells.`;

const TEXT_TASK = `Task: the room below is given as text. The agent must pick up the printer and put it down next to the table, using as few actions as possible.

How to read the text: the grid has one line per row, row 0 first; A is the agent, P the printer, T a table cell and . free floor.`;

const TEACHER_SYSTEM = `You are a MiniBehaviour text-only planning teacher.

Each user message gives one puzzle as symbolic text: the grid size, the agent's position, the printer's position, the table cells, the cells where PICK and DROP are valid, and a grid with one line per row (A agent, P printer, T table, . floor), followed, when one is available, by a reference action plan that is known to be optimal. Work from this text alone: never refer to images, and never mention that a reference plan was given.

${RULES}

${OUTPUT}

${EXAMPLE}`;

const cellList = (cells: readonly Pos[]): string => (cells.length === 0 ? 'none' : cells.map(formatPos).join(', '));

function paperReadout(instance: MiniBehaviourInstance): string {
  return `Grid size: ${instance.level}x${instance.level}
Agent: ${formatPos(instance.start)}
Printer: ${formatPos(instance.printer)}
Table: ${cellList(tableCells(instance))}`;
}

function symbolicState(instance: MiniBehaviourInstance): string {
  return `${paperReadout(instance)}
Cells next to the printer (PICK is valid here): ${cellList(printerNeighbours(instance))}
Cells next to the table (DROP is valid here while carrying): ${cellList(tableNeighbours(instance))}
Grid (A agent, P printer, T table, . floor; row 0 first):
${miniBehaviourGrid(instance)}`;
}

function compactReadout(instance: MiniBehaviourInstance): string {
  return `N${instance.level} A${formatCompactPos(instance.start)} P${formatCompactPos(instance.printer)} T${formatCompactPos(instance.tableTopLeft)}`;
}

function planSentence(plan: readonly Action[]): string {
  const pickAt = plan.indexOf('pick');
  const toPrinter = plan.slice(0, Math.max(0, pickAt)).filter(isMove);
  const toTable = plan.slice(pickAt + 1).filter(isMove);
  const first = toPrinter.length === 0 ? 'the agent already stands next to the printer, so PICK it up' : `move ${describeMoves(toPrinter)} to stand next to the printer, PICK it up`;
  const second = toTable.length === 0 ? 'DROP it right there beside the table' : `move ${describeMoves(toTable)} to a cell beside the table, then DROP it`;
  return `Plan: ${first}, ${second}; no move enters the table, or the printer before it is picked up.`;
}

/** Moves the agent can make from its start (not carrying): on the grid, not table, not printer. */
function legalMoves(instance: MiniBehaviourInstance): Move[] {
  return DIRECTION_ORDER.filter((move) => {
    const next = stepPos(instance.start, move);
    return inBounds(next, instance.level) && !isTableCell(instance, next) && !samePos(next, instance.printer);
  });
}

const PERCEPTION_QUESTIONS = `Colour guide: red = agent, white = printer, tan = table, black = floor.
Look at the image and answer every question below. Reply with one numbered answer per question, in the same order.
1. What is the grid size? Answer as NxN.
2. Where is the agent? Answer as (row,column), 0-based, with row 0 at the top.
3. Where is the printer? Answer as (row,column).
4. Which cells does the table cover? List them as (row,column), separated by commas.
5. Which cells are directly next to the printer (up, down, left or right) and not part of the table? List them as (row,column).
6. Which cells are directly next to the table and not part of it? List them as (row,column).
7. Which moves can the agent make from its current cell before picking anything up? List the directions (up, right, down, left order), separated by commas.`;

function parsePaperPerception(text: string): Record<string, PerceptionValue> {
  const cells = (section: string): Pos[] => sortCells(readPositions(section));
  return readPaperFields(text, [
    { field: 'size', section: 1, label: 'Grid size', read: readSize },
    { field: 'agent', section: 2, label: 'Agent', read: readPosition },
    { field: 'printer', section: 3, label: 'Printer', read: readPosition },
    { field: 'table', section: 4, label: 'Table', read: cells },
    { field: 'printerAdjacent', section: 5, read: cells },
    { field: 'tableAdjacent', section: 6, read: cells },
    { field: 'legalMoves', section: 7, read: (moves) => moves.toLowerCase().split(/[\s,;]+/).filter((word) => (DIRECTION_ORDER as readonly string[]).includes(word)) },
  ]);
}

function parseCompactPerception(text: string): Record<string, PerceptionValue> {
  return readCompactFields(compactTokens(text), [
    { field: 'size', tag: 'N', read: readCompactSize },
    { field: 'agent', tag: 'A', read: readCompactPos },
    { field: 'printer', tag: 'P', read: readCompactPos },
    { field: 'table', tag: 'T', read: (corner) => {
      const tableTopLeft = readCompactPos(corner);
      return tableTopLeft === undefined ? undefined : tableCells({ tableTopLeft });
    } },
  ]);
}

function baseFields(instance: MiniBehaviourInstance): Record<string, PerceptionValue> {
  return { size: instance.level, agent: instance.start, printer: instance.printer, table: tableCells(instance) };
}

const PLANNING = planningPrompts<MiniBehaviourInstance>({
  task: 'minibehaviour',
  role: ROLE,
  imageTask: IMAGE_TASK,
  textTask: TEXT_TASK,
  rules: RULES,
  output: OUTPUT,
  example: EXAMPLE,
  teacherSystem: TEACHER_SYSTEM,
  solveNoun: 'room',
  puzzleTitle: 'MiniBehaviour',
  symbolicState,
  compactState: compactMiniBehaviourState,
  paperReadout,
  compactReadout,
  planSentence,
  formatPlan: formatMiniBehaviourPlan,
});

/** MiniBehaviour's prompts and formats. */
export const miniBehaviourPrompts: EnvPrompts<MiniBehaviourInstance> = {
  ...PLANNING,
  perception(instance, profile) {
    if (profile === 'compact') {
      return { view: compactImageView('minibehaviour', COMPACT_PERCEPTION_SUFFIX), answer: compactReadout(instance), fields: baseFields(instance) };
    }
    const moves = legalMoves(instance);
    const answer = [
      `1. ${instance.level}x${instance.level}`,
      `2. ${formatPos(instance.start)}`,
      `3. ${formatPos(instance.printer)}`,
      `4. ${cellList(tableCells(instance))}`,
      `5. ${cellList(printerNeighbours(instance))}`,
      `6. ${cellList(tableNeighbours(instance))}`,
      `7. ${moves.length === 0 ? 'none' : moves.join(', ')}`,
    ].join('\n');
    const fields = {
      ...baseFields(instance),
      printerAdjacent: printerNeighbours(instance),
      tableAdjacent: tableNeighbours(instance),
      legalMoves: moves,
    };
    return { view: imageView(PERCEPTION_QUESTIONS), answer, fields };
  },
  parsePerception(text, profile) {
    return profile === 'compact' ? parseCompactPerception(text) : parsePaperPerception(text);
  },
};

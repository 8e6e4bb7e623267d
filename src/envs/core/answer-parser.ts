/**
 * THE response parser: every stage (reward, eval, score) reads plans through `parseAnswer`.
 *
 * Semantics (also in docs/environments.md):
 * 1. The block. `paper`: the complete `<answer>…</answer>` blocks (tags case-insensitive); the
 *    first or the last one per `options.block`. `compact`: the text after the first or last `@`.
 *    Without a block, `requireTag: true` gives no plan; `requireTag: false` reads the whole text.
 * 2. Tokens. The block is split on whitespace and `, ; | / +`; surrounding punctuation
 *    (`. : ! ? ' " \` ( ) [ ] { } < > * -`) is stripped and empty tokens are dropped.
 * 3. Each token is read, in this order for `paper` (words first):
 *    a word — LEFT/RIGHT/UP/DOWN and L/R/U/D in any case; PICK, PICKUP, PICK_UP, PICK-UP, GRAB;
 *    DROP, PUT, PUTDOWN, PUT_DOWN, PLACE; in MiniBehaviour also the compact letters P (pick) and
 *    X (drop); — a letter run such as `RRDU` (MiniBehaviour: over L D R U P X); — an arrow run
 *    over ← ↓ → ↑. The `compact` profile tries the letter run first, so `UP` there is up + PICK.
 *    Gym/VPRL digit ids are not accepted: their orders disagree.
 * 4. PICK and DROP are returned in every task; FrozenLake and Maze simulators reject them
 *    (`action_not_allowed`), so they are graded, not silently dropped.
 * 5. Unreadable tokens are listed in `invalidTokens`. `unknownTokens: 'fail'` then makes the plan
 *    unparsed; `'skip'` ignores them. `parsed` is true iff the plan is non-empty and accepted; when
 *    it is false, `actions` is empty, so no caller can grade half a plan by accident.
 * Garbage never throws.
 */
import type { Action, EnvName, ParsedAnswer, ParserOptions, PromptProfile, ResponseSegments } from '../types.js';
import { DEFAULT_PARSER_OPTIONS } from '../types.js';

/** The words that open the one-sentence plan in paper responses (used to find its segment). */
export const PLAN_SENTENCE_LEAD = 'Plan:';

const WORDS: Readonly<Record<string, Action>> = {
  LEFT: 'left',
  RIGHT: 'right',
  UP: 'up',
  DOWN: 'down',
  L: 'left',
  R: 'right',
  U: 'up',
  D: 'down',
  PICK: 'pick',
  PICKUP: 'pick',
  GRAB: 'pick',
  DROP: 'drop',
  PUT: 'drop',
  PUTDOWN: 'drop',
  PLACE: 'drop',
};

const LETTERS: Readonly<Record<string, Action>> = { L: 'left', D: 'down', R: 'right', U: 'up', P: 'pick', X: 'drop' };
const ARROWS: Readonly<Record<string, Action>> = { '←': 'left', '↓': 'down', '→': 'right', '↑': 'up' };
const MOVE_RUN = /^[LDRU]+$/;
const OBJECT_RUN = /^[LDRUPX]+$/;
const ARROW_RUN = /^[←↓→↑]+$/;
const SEPARATORS = /[\s,;|/+]+/;
const EDGE_PUNCTUATION = /^[.:!?'"`()[\]{}<>*-]+|[.:!?'"`()[\]{}<>*-]+$/g;
const ANSWER_BLOCK = /<answer>([\s\S]*?)<\/answer>/gi;

/** The answer block's body, or null when there is none. */
function findBlock(text: string, profile: PromptProfile, block: ParserOptions['block']): string | null {
  if (profile === 'compact') {
    const at = block === 'first' ? text.indexOf('@') : text.lastIndexOf('@');
    return at < 0 ? null : text.slice(at + 1);
  }
  const bodies = [...text.matchAll(ANSWER_BLOCK)].map((match) => match[1] ?? '');
  if (bodies.length === 0) return null;
  return (block === 'first' ? bodies[0] : bodies[bodies.length - 1]) ?? null;
}

/** Reads one token as a list of actions, or null when it is not one. */
function readToken(token: string, task: EnvName, profile: PromptProfile): Action[] | null {
  const upper = token.toUpperCase();
  const word = upper.replace(/[-_]/g, '');
  const hasObjects = task === 'minibehaviour';
  const run = hasObjects ? OBJECT_RUN : MOVE_RUN;
  const asRun = (): Action[] | null => (run.test(upper) ? [...upper].map((letter) => LETTERS[letter]!) : null);
  const asWord = (): Action[] | null => {
    const action = WORDS[word] ?? (hasObjects && (word === 'P' || word === 'X') ? LETTERS[word] : undefined);
    return action === undefined ? null : [action];
  };
  const asArrows = (): Action[] | null => (ARROW_RUN.test(token) ? [...token].map((arrow) => ARROWS[arrow]!) : null);
  return profile === 'compact' ? (asRun() ?? asWord() ?? asArrows()) : (asWord() ?? asRun() ?? asArrows());
}

/** Parses a model response into a plan (semantics in the module header). */
export function parseAnswer(
  text: string,
  task: EnvName,
  profile: PromptProfile,
  options: ParserOptions = DEFAULT_PARSER_OPTIONS,
): ParsedAnswer {
  const body = typeof text === 'string' ? findBlock(text, profile, options.block) : null;
  const hasTag = body !== null;
  if (!hasTag && (options.requireTag || typeof text !== 'string')) {
    return { parsed: false, actions: [], invalidTokens: [], hasTag: false };
  }
  const actions: Action[] = [];
  const invalidTokens: string[] = [];
  for (const raw of (body ?? text).split(SEPARATORS)) {
    const token = raw.replace(EDGE_PUNCTUATION, '');
    if (token === '') continue;
    const read = readToken(token, task, profile);
    if (read === null) invalidTokens.push(token);
    else actions.push(...read);
  }
  const parsed = actions.length > 0 && (options.unknownTokens === 'skip' || invalidTokens.length === 0);
  return { parsed, actions: parsed ? actions : [], invalidTokens, hasTag };
}

/**
 * Splits a response into read-out / plan sentence / answer (character ranges, for per-segment
 * logging). `paper`: the answer is the last complete `<answer>…</answer>` block (else from the
 * last `<answer>` to the end, else empty at the end); the plan sentence runs from the last
 * `Plan:` before the answer to the answer (empty if absent); the read-out is everything before.
 * `compact`: the read-out is the text before the first `@`, the answer is from `@` to the end,
 * and the plan sentence is always empty.
 */
export function segmentResponse(response: string, profile: PromptProfile): ResponseSegments {
  const length = response.length;
  if (profile === 'compact') {
    const at = response.indexOf('@');
    const cut = at < 0 ? length : at;
    return { readout: [0, cut], plan: [cut, cut], answer: [cut, length] };
  }
  const blocks = [...response.matchAll(ANSWER_BLOCK)];
  const lastBlock = blocks[blocks.length - 1];
  let answerStart = length;
  let answerEnd = length;
  if (lastBlock !== undefined) {
    answerStart = lastBlock.index;
    answerEnd = lastBlock.index + lastBlock[0].length;
  } else {
    const open = response.toLowerCase().lastIndexOf('<answer>');
    if (open >= 0) answerStart = open;
  }
  const lead = response.lastIndexOf(PLAN_SENTENCE_LEAD, answerStart);
  const planStart = lead >= 0 && lead < answerStart ? lead : answerStart;
  return { readout: [0, planStart], plan: [planStart, answerStart], answer: [answerStart, answerEnd] };
}

/**
 * The part of a target response that comes before the model's own planning: the read-out and the
 * separator that hands over to the plan (`compact`: up to and including `@`; `paper`: up to the
 * plan sentence). The cold-start SFT teaches exactly this prefix, without EOS, so the student goes
 * on to plan by itself.
 */
export function readoutPrefix(response: string, profile: PromptProfile): string {
  const segments = segmentResponse(response, profile);
  if (profile === 'compact') return response.slice(0, Math.min(response.length, segments.answer[0] + 1));
  return response.slice(0, segments.plan[0]);
}

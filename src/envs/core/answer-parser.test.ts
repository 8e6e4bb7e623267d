import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { Action, ParserOptions } from '../types.js';
import { DEFAULT_PARSER_OPTIONS } from '../types.js';
import { parseAnswer, readoutPrefix, segmentResponse } from './answer-parser.js';
import { formatPlanText } from './prompt-kit.js';

const strict: ParserOptions = DEFAULT_PARSER_OPTIONS;
const skip: ParserOptions = { ...DEFAULT_PARSER_OPTIONS, unknownTokens: 'skip' };

describe('parseAnswer (paper)', () => {
  it('reads compact letter runs, words, arrows and mixed separators', () => {
    expect(parseAnswer('<answer>RRDU</answer>', 'frozenlake', 'paper').actions).toEqual(['right', 'right', 'down', 'up']);
    expect(parseAnswer('<answer>Left, down; RIGHT up</answer>', 'maze', 'paper').actions).toEqual(['left', 'down', 'right', 'up']);
    expect(parseAnswer('<answer>←↓ →↑</answer>', 'maze', 'paper').actions).toEqual(['left', 'down', 'right', 'up']);
    expect(parseAnswer('<ANSWER> "R, D." </ANSWER>', 'maze', 'paper').actions).toEqual(['right', 'down']);
  });

  it('reads MiniBehaviour words and compact letters', () => {
    const parsed = parseAnswer('<answer>U,PICK,R,R,DROP</answer>', 'minibehaviour', 'paper');
    expect(parsed).toEqual({ parsed: true, actions: ['up', 'pick', 'right', 'right', 'drop'], invalidTokens: [], hasTag: true });
    expect(parseAnswer('<answer>pick_up, put-down</answer>', 'minibehaviour', 'paper').actions).toEqual(['pick', 'drop']);
    // In the paper profile a separated "UP" is the word up, not U + P.
    expect(parseAnswer('<answer>UP, P, X</answer>', 'minibehaviour', 'paper').actions).toEqual(['up', 'pick', 'drop']);
  });

  it('keeps PICK/DROP in FrozenLake and Maze so the simulator can reject them', () => {
    expect(parseAnswer('<answer>R,PICK</answer>', 'frozenlake', 'paper').actions).toEqual(['right', 'pick']);
  });

  it('chooses the first or last block and honours requireTag', () => {
    const text = 'x <answer>L</answer> y <answer>R</answer>';
    expect(parseAnswer(text, 'maze', 'paper', { ...strict, block: 'first' }).actions).toEqual(['left']);
    expect(parseAnswer(text, 'maze', 'paper', { ...strict, block: 'last' }).actions).toEqual(['right']);
    expect(parseAnswer('RD', 'maze', 'paper', { ...strict, requireTag: true })).toEqual({ parsed: false, actions: [], invalidTokens: [], hasTag: false });
    expect(parseAnswer('RD', 'maze', 'paper', { ...strict, requireTag: false })).toEqual({ parsed: true, actions: ['right', 'down'], invalidTokens: [], hasTag: false });
  });

  it('fails or skips unknown tokens per the option, and reports them either way', () => {
    const text = '<answer>R, then D, 2</answer>';
    expect(parseAnswer(text, 'maze', 'paper', strict)).toEqual({ parsed: false, actions: [], invalidTokens: ['then', '2'], hasTag: true });
    expect(parseAnswer(text, 'maze', 'paper', skip)).toEqual({ parsed: true, actions: ['right', 'down'], invalidTokens: ['then', '2'], hasTag: true });
    expect(parseAnswer('<answer></answer>', 'maze', 'paper').parsed).toBe(false);
    expect(parseAnswer('<answer>P</answer>', 'frozenlake', 'paper').invalidTokens).toEqual(['P']);
  });

  it('never throws on garbage', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.constantFrom('frozenlake', 'maze', 'minibehaviour' as const), (text, task) => {
        for (const profile of ['paper', 'compact'] as const) {
          const result = parseAnswer(text, task, profile, skip);
          expect(result.parsed).toBe(result.actions.length > 0);
          expect(segmentResponse(text, profile).answer[1]).toBeLessThanOrEqual(text.length);
        }
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('parseAnswer (compact)', () => {
  it('reads the text after @, letters first (UP is up + PICK in MiniBehaviour)', () => {
    expect(parseAnswer('N5 A21 P11 T31@UPRRX', 'minibehaviour', 'compact').actions).toEqual(['up', 'pick', 'right', 'right', 'drop']);
    expect(parseAnswer('N3 S00 G22 H-@RRDD', 'frozenlake', 'compact').actions).toEqual(['right', 'right', 'down', 'down']);
    expect(parseAnswer('a@L@R', 'maze', 'compact', { ...strict, block: 'first' }).invalidTokens).toEqual(['L@R']);
    expect(parseAnswer('a@L@R', 'maze', 'compact', { ...strict, block: 'last' }).actions).toEqual(['right']);
    expect(parseAnswer('N3 S00', 'maze', 'compact', { ...strict, requireTag: true }).parsed).toBe(false);
  });
});

const moveArb = fc.constantFrom<Action>('left', 'down', 'right', 'up');
const actionArb = fc.constantFrom<Action>('left', 'down', 'right', 'up', 'pick', 'drop');

describe('plan → text → plan', () => {
  it('round-trips for every task and profile', () => {
    fc.assert(
      fc.property(fc.array(moveArb, { minLength: 1, maxLength: 20 }), fc.array(actionArb, { minLength: 1, maxLength: 20 }), (moves, actions) => {
        for (const profile of ['paper', 'compact'] as const) {
          const wrap = (body: string): string => (profile === 'paper' ? `x\n<answer>${body}</answer>` : `N3@${body}`);
          for (const task of ['frozenlake', 'maze'] as const) {
            expect(parseAnswer(wrap(formatPlanText(moves, task, profile)), task, profile).actions).toEqual(moves);
          }
          expect(parseAnswer(wrap(formatPlanText(actions, 'minibehaviour', profile)), 'minibehaviour', profile).actions).toEqual(actions);
        }
      }),
      { seed: 5, numRuns: 200 },
    );
  });
});

describe('segmentResponse', () => {
  it('splits a paper response into read-out, plan sentence and answer', () => {
    const response = 'Map size: 3x3\nPlan: move right 2.\n<answer>RR</answer>';
    const segments = segmentResponse(response, 'paper');
    const cut = (range: [number, number]): string => response.slice(...range);
    expect(cut(segments.readout)).toBe('Map size: 3x3\n');
    expect(cut(segments.plan)).toBe('Plan: move right 2.\n');
    expect(cut(segments.answer)).toBe('<answer>RR</answer>');
  });

  it('splits a compact response at the first @ and handles missing parts', () => {
    expect(segmentResponse('N3 S00@RR', 'compact')).toEqual({ readout: [0, 6], plan: [6, 6], answer: [6, 9] });
    expect(segmentResponse('N3 S00', 'compact')).toEqual({ readout: [0, 6], plan: [6, 6], answer: [6, 6] });
    expect(segmentResponse('no tags', 'paper')).toEqual({ readout: [0, 7], plan: [7, 7], answer: [7, 7] });
    expect(segmentResponse('x <answer>RR', 'paper')).toEqual({ readout: [0, 2], plan: [2, 2], answer: [2, 12] });
  });
});

describe('readoutPrefix', () => {
  it('keeps the read-out and the hand-over to the plan', () => {
    expect(readoutPrefix('N3 S10 G22 H-@DRR', 'compact')).toBe('N3 S10 G22 H-@');
    const paper = 'Map size: 3x3\nPlayer: (1,0)\nPlan: move down 1.\n<answer>D</answer>';
    expect(readoutPrefix(paper, 'paper')).toBe('Map size: 3x3\nPlayer: (1,0)\n');
  });
});

/**
 * Properties every task must satisfy, checked through the public registry with fixed seeds
 * (fast-check prints the failing seed and the shrunk counterexample).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { gradeFields } from './core/perception-fields.js';
import { getEnv, parseAnswer } from './index.js';
import { tableCells } from './minibehaviour/instance.js';
import type { Action, EnvName, FailureKind, Instance, Pos, SimulationRules } from './types.js';
import { ENV_NAMES, OPTIMAL_PLAN_COUNT_CAP } from './types.js';

const LEVELS: Record<EnvName, { small: number[]; all: number[] }> = {
  frozenlake: { small: [2, 3, 4], all: [2, 3, 4, 5, 6, 8, 12, 16] },
  maze: { small: [2, 3, 4], all: [2, 3, 4, 5, 6, 9, 16] },
  minibehaviour: { small: [4], all: [4, 5, 6, 8, 16] },
};
const ACTIONS: Record<EnvName, Action[]> = {
  frozenlake: ['left', 'down', 'right', 'up'],
  maze: ['left', 'down', 'right', 'up'],
  minibehaviour: ['left', 'down', 'right', 'up', 'pick', 'drop'],
};
const seedArb = fc.integer({ min: 0, max: 0xffffffff });
const bucketArb = fc.constantFrom(null, 'easy' as const, 'medium' as const);

const DELTA: Record<string, Pos> = { up: { row: -1, col: 0 }, down: { row: 1, col: 0 }, left: { row: 0, col: -1 }, right: { row: 0, col: 1 } };
const BIT: Record<string, number> = { up: 1, down: 2, left: 4, right: 8 };

interface ReferenceOutcome {
  success: boolean;
  steps: number;
  failure: FailureKind | null;
}

/** An independent, deliberately plain re-statement of the three tasks' rules. */
function referenceRun(instance: Instance, plan: readonly Action[], rules: SimulationRules): ReferenceOutcome {
  if (plan.length === 0) return { success: false, steps: 0, failure: 'no_answer' };
  const n = instance.level;
  let pos: Pos =
    instance.task === 'frozenlake'
      ? { row: instance.rows.findIndex((r) => r.includes('S')), col: instance.rows.find((r) => r.includes('S'))!.indexOf('S') }
      : instance.start;
  let carrying = false;
  const onTable = (p: Pos): boolean => instance.task === 'minibehaviour' && tableCells(instance).some((t) => t.row === p.row && t.col === p.col);
  const adjacent = (a: Pos, b: Pos): boolean => Math.abs(a.row - b.row) + Math.abs(a.col - b.col) === 1;
  for (let i = 0; i < plan.length; i += 1) {
    const action = plan[i]!;
    const fail = (failure: FailureKind): ReferenceOutcome => ({ success: false, steps: i, failure });
    if (action === 'pick' || action === 'drop') {
      if (instance.task !== 'minibehaviour') return fail('action_not_allowed');
      if (action === 'pick') {
        if (carrying || !adjacent(pos, instance.printer)) return fail('pick_invalid');
        carrying = true;
        continue;
      }
      const nextToTable = tableCells(instance).some((t) => adjacent(pos, t));
      if (!carrying || !nextToTable) return fail('drop_invalid');
      return { success: true, steps: i + 1, failure: null };
    }
    const next = { row: pos.row + DELTA[action]!.row, col: pos.col + DELTA[action]!.col };
    if (instance.task === 'maze') {
      if (instance.walls[pos.row]![pos.col]! & BIT[action]!) return fail('crossed_wall');
    } else if (next.row < 0 || next.col < 0 || next.row >= n || next.col >= n) {
      if (rules.outOfBounds === 'fail') return fail('out_of_bounds');
      continue;
    }
    if (instance.task === 'frozenlake') {
      const symbol = instance.rows[next.row]![next.col];
      if (symbol === 'H') return fail('fell_into_hole');
      pos = next;
      if (symbol === 'G') return { success: true, steps: i + 1, failure: null };
    } else if (instance.task === 'maze') {
      pos = next;
      if (pos.row === instance.goal.row && pos.col === instance.goal.col) return { success: true, steps: i + 1, failure: null };
    } else {
      if (onTable(next)) return fail('entered_table');
      if (!carrying && next.row === instance.printer.row && next.col === instance.printer.col) return fail('entered_printer');
      pos = next;
    }
  }
  return { success: false, steps: plan.length, failure: 'goal_not_reached' };
}

/** Every successful plan no longer than `maxLength`, by depth-first search through the simulator. */
function enumerateSuccesses(name: EnvName, instance: Instance, maxLength: number): Action[][] {
  const { spec } = getEnv(name);
  const found: Action[][] = [];
  const visit = (prefix: Action[]): void => {
    for (const action of ACTIONS[name]) {
      const plan = [...prefix, action];
      const result = spec.simulate(instance, plan);
      if (result.success) found.push(plan);
      else if (result.failure?.kind === 'goal_not_reached' && plan.length < maxLength) visit(plan);
    }
  };
  visit([]);
  return found;
}

describe.each(ENV_NAMES)('%s', (name) => {
  const { spec, prompts } = getEnv(name);

  it('generates deterministically, validly, solvably, and honours the requested bucket', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LEVELS[name].all), seedArb, bucketArb, (level, seed, bucket) => {
        const instance = spec.generate(level, seed, { bucket });
        expect(spec.generate(level, seed, { bucket })).toEqual(instance);
        expect(instance.level).toBe(level);
        spec.validate(instance);
        const solution = spec.solve(instance);
        expect(solution.optimalLength).toBeGreaterThan(0);
        expect(solution.numOptimalPlans).toBeGreaterThanOrEqual(1);
        expect(solution.numOptimalPlans).toBeLessThanOrEqual(OPTIMAL_PLAN_COUNT_CAP);
        // Maze keeps the first candidate when the bucket is out of reach (official); the others hit it.
        if (bucket !== null && name !== 'maze') expect(spec.bucketOf(level, solution.optimalLength)).toBe(bucket);
        expect(JSON.parse(JSON.stringify(instance))).toEqual(instance);
      }),
      { seed: 11, numRuns: 60 },
    );
  });

  it('BFS length equals brute force, and the optimal plans it counts are exactly the shortest successes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LEVELS[name].small), seedArb, (level, seed) => {
        const instance = spec.generate(level, seed, { bucket: null });
        const solution = spec.solve(instance);
        fc.pre(solution.optimalLength <= 7);
        const successes = enumerateSuccesses(name, instance, solution.optimalLength);
        expect(Math.min(...successes.map((plan) => plan.length))).toBe(solution.optimalLength);
        const optimal = successes.filter((plan) => plan.length === solution.optimalLength);
        expect(optimal.length).toBe(solution.numOptimalPlans);
        expect(optimal).toContainEqual(solution.plan);
        for (const plan of optimal) {
          const result = spec.simulate(instance, plan);
          expect(result.optimalSuccess).toBe(true);
          expect(result.progressRate).toBe(1);
        }
      }),
      { seed: 12, numRuns: 40 },
    );
  });

  it('the simulator agrees with an independent rule set on single-action corruptions and random plans', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LEVELS[name].all.slice(0, 4)),
        seedArb,
        fc.nat(),
        fc.constantFrom(...ACTIONS[name]),
        fc.array(fc.constantFrom(...ACTIONS[name]), { maxLength: 12 }),
        fc.constantFrom<SimulationRules>({ outOfBounds: 'fail' }, { outOfBounds: 'stay' }),
        (level, seed, where, replacement, randomPlan, rules) => {
          const instance = spec.generate(level, seed, { bucket: null });
          const solution = spec.solve(instance);
          const corrupted = [...solution.plan];
          const index = where % corrupted.length;
          fc.pre(corrupted[index] !== replacement);
          corrupted[index] = replacement;
          for (const plan of [corrupted, randomPlan, solution.plan, [...solution.plan, ...randomPlan]]) {
            const expected = referenceRun(instance, plan, rules);
            const result = spec.simulate(instance, plan, rules);
            expect({ success: result.success, steps: result.stepsExecuted, failure: result.failure?.kind ?? null }).toEqual(expected);
            expect(result.optimalSuccess).toBe(expected.success && expected.steps === solution.optimalLength);
            if (result.failure) expect(result.failure.step).toBe(result.failure.kind === 'goal_not_reached' ? plan.length : result.stepsExecuted);
            expect(result.progressRate).toBeGreaterThanOrEqual(0);
            expect(result.progressRate).toBeLessThanOrEqual(1);
            for (const cell of result.trajectory) expect(cell.row >= 0 && cell.col >= 0 && cell.row < level && cell.col < level).toBe(true);
          }
          // The corruption is caught unless it is another optimal plan of the same length.
          const outcome = spec.simulate(instance, corrupted, rules);
          if (!outcome.optimalSuccess) expect(outcome.success && outcome.stepsExecuted === solution.optimalLength).toBe(false);
          expect(spec.simulate(instance, corrupted.slice(0, index), rules).progressRate).toBe(index / solution.optimalLength);
        },
      ),
      { seed: 13, numRuns: 150 },
    );
  });

  it('round-trips plan → target response → parse for both profiles, and recovers perception fields', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LEVELS[name].all.slice(0, 5)), seedArb, (level, seed) => {
        const instance = spec.generate(level, seed, { bucket: null });
        const { plan } = spec.solve(instance);
        for (const profile of ['paper', 'compact'] as const) {
          const response = prompts.targetResponse(instance, profile, plan);
          expect(parseAnswer(response, name, profile, { block: 'last', requireTag: true, unknownTokens: 'fail' }).actions).toEqual(plan);
          const item = prompts.perception(instance, profile);
          expect(gradeFields(item.fields, prompts.parsePerception(item.answer, profile)).allExact).toBe(true);
          const fromReadout = prompts.parsePerception(prompts.readout(instance, profile), profile);
          const fromResponse = prompts.parsePerception(response, profile);
          expect(Object.keys(fromReadout).length).toBeGreaterThanOrEqual(4);
          expect(fromResponse).toEqual(fromReadout);
          for (const [field, value] of Object.entries(fromReadout)) expect(gradeFields({ [field]: item.fields[field]! }, { [field]: value }).allExact).toBe(true);
          const segments = prompts.segments(response, profile);
          expect(response.slice(...segments.readout)).toContain(prompts.readout(instance, profile));
          expect(segments.answer[1]).toBe(response.length);
        }
      }),
      { seed: 14, numRuns: 80 },
    );
  });

  it('keys equal puzzles equally and different puzzles differently', () => {
    const keys = new Map<string, string>();
    for (let seed = 0; seed < 300; seed += 1) {
      const instance = spec.generate(LEVELS[name].small.at(-1)!, seed, { bucket: null });
      const canonical = JSON.stringify({ ...instance, startDir: undefined });
      const key = spec.dedupKey(instance);
      expect(keys.get(key) ?? canonical).toBe(canonical);
      keys.set(key, canonical);
    }
    expect(keys.size).toBeGreaterThan(50);
  });

  it('rejects unsupported levels and seeds with an EnvError that names them', () => {
    expect(() => spec.generate(1, 0, { bucket: null })).toThrow(/level 1 is not supported/);
    expect(() => spec.generate(17, 0, { bucket: null })).toThrow(/level 17/);
    expect(() => spec.generate(5, -1, { bucket: null })).toThrow(/seed -1/);
  });
});

describe('getEnv', () => {
  it('rejects an unknown task name with the list of known ones', () => {
    expect(() => getEnv('sokoban' as EnvName)).toThrow(/unknown task "sokoban"; expected one of frozenlake, maze, minibehaviour/);
  });
});

/**
 * Exact breadth-first solving over a task's state graph.
 *
 * Each task compiles an instance into a `Kernel`: states are small integers (a cell, or a cell and
 * a carrying flag), `step` applies one action and returns the next state or a negative failure
 * code, and goal states are terminal. From that one transition function come the solver
 * (`solveKernel`: BFS from the start, then a backward pass over the BFS order), the full analysis
 * (`analyzeKernel`: adds every state's remaining optimal cost, for progress), the count of
 * optimal plans (DP over the BFS layers, capped), the canonical plan, and the simulator
 * (`episode.ts`), so grading and solving can never disagree about the rules.
 *
 * Canonical plan tie-break: at every step take the first action in `kernel.actions` order (L, D,
 * R, U, PICK, DROP) that lowers the remaining optimal cost by one.
 */
import type { Action, FailureKind, Pos, SimulationRules } from '../types.js';
import { OPTIMAL_PLAN_COUNT_CAP } from '../types.js';

/** A task's rules compiled for one instance. */
export interface Kernel {
  readonly numStates: number;
  readonly start: number;
  /** The actions the task has, in tie-break order. */
  readonly actions: readonly Action[];
  /** Applies `action` in `state`: the next state (≥ 0) or `failureCode(kind)` (< 0). */
  step(state: number, action: Action, rules: SimulationRules): number;
  /** True for terminal success states. */
  isGoal(state: number): boolean;
  /** The cell the agent occupies in `state`. */
  cellOf(state: number): Pos;
}

/** Failure kinds in code order: `failureCode(kind) === -(index + 1)`. */
const FAILURE_KINDS: readonly FailureKind[] = [
  'fell_into_hole',
  'out_of_bounds',
  'crossed_wall',
  'entered_table',
  'entered_printer',
  'pick_invalid',
  'drop_invalid',
  'action_not_allowed',
  'goal_not_reached',
  'no_answer',
];

/** The negative code a kernel's `step` returns for `kind`. */
export function failureCode(kind: FailureKind): number {
  return -(FAILURE_KINDS.indexOf(kind) + 1);
}

/** The failure kind of a negative step code. */
export function failureOf(code: number): FailureKind {
  const kind = FAILURE_KINDS[-code - 1];
  if (kind === undefined) throw new RangeError(`not a failure code: ${code}`);
  return kind;
}

/** What BFS knows about a kernel. */
export interface KernelAnalysis {
  optimalLength: number;
  numOptimalPlans: number;
  plan: Action[];
  /** Remaining optimal cost of each state reachable from the start; -1 elsewhere. */
  costToGoal: Int32Array;
}

const SOLVER_RULES: SimulationRules = { outOfBounds: 'fail' };

/** Transition table of the states reachable from the start: `next[state * A + a]`, -1 if illegal. */
interface Reachable {
  next: Int32Array;
  reached: Int32Array;
  count: number;
}

function exploreForward(kernel: Kernel): Reachable {
  const actionCount = kernel.actions.length;
  const next = new Int32Array(kernel.numStates * actionCount).fill(-1);
  const seen = new Uint8Array(kernel.numStates);
  const reached = new Int32Array(kernel.numStates);
  reached[0] = kernel.start;
  seen[kernel.start] = 1;
  let count = 1;
  for (let head = 0; head < count; head += 1) {
    const state = reached[head]!;
    if (kernel.isGoal(state)) continue; // terminal
    for (let a = 0; a < actionCount; a += 1) {
      const target = kernel.step(state, kernel.actions[a]!, SOLVER_RULES);
      if (target < 0 || target === state) continue; // illegal, or a no-op that never helps
      next[state * actionCount + a] = target;
      if (seen[target] === 0) {
        seen[target] = 1;
        reached[count] = target;
        count += 1;
      }
    }
  }
  return { next, reached, count };
}

/** The length of a shortest successful plan, or -1 when none exists (forward BFS only). */
export function shortestPlanLength(kernel: Kernel): number {
  const dist = new Int32Array(kernel.numStates).fill(-1);
  const queue = new Int32Array(kernel.numStates);
  dist[kernel.start] = 0;
  queue[0] = kernel.start;
  let tail = 1;
  for (let head = 0; head < tail; head += 1) {
    const state = queue[head]!;
    if (kernel.isGoal(state)) return dist[state]!;
    for (const action of kernel.actions) {
      const target = kernel.step(state, action, SOLVER_RULES);
      if (target < 0 || dist[target] !== -1) continue;
      dist[target] = dist[state]! + 1;
      queue[tail] = target;
      tail += 1;
    }
  }
  return -1;
}

/**
 * Backward BFS from the reachable goal states over the reversed transition table: every state's
 * remaining optimal cost, and the states in order of increasing cost.
 */
function costsToGoal(kernel: Kernel, reach: Reachable): { cost: Int32Array; order: Int32Array; count: number } {
  const actionCount = kernel.actions.length;
  const next = reach.next;
  // Reverse adjacency in CSR form: predecessors of s are predecessors[offsets[s] .. offsets[s+1]).
  const offsets = new Int32Array(kernel.numStates + 1);
  for (let i = 0; i < next.length; i += 1) if (next[i]! >= 0) offsets[next[i]! + 1]! += 1;
  for (let s = 0; s < kernel.numStates; s += 1) offsets[s + 1]! += offsets[s]!;
  const predecessors = new Int32Array(offsets[kernel.numStates]!);
  const fill = offsets.slice(0, kernel.numStates);
  for (let i = 0; i < next.length; i += 1) {
    const target = next[i]!;
    if (target < 0) continue;
    predecessors[fill[target]!] = (i / actionCount) | 0;
    fill[target]! += 1;
  }
  const cost = new Int32Array(kernel.numStates).fill(-1);
  const order = new Int32Array(kernel.numStates);
  let count = 0;
  for (let i = 0; i < reach.count; i += 1) {
    const state = reach.reached[i]!;
    if (!kernel.isGoal(state)) continue;
    cost[state] = 0;
    order[count] = state;
    count += 1;
  }
  for (let head = 0; head < count; head += 1) {
    const state = order[head]!;
    for (let p = offsets[state]!; p < offsets[state + 1]!; p += 1) {
      const source = predecessors[p]!;
      if (cost[source] !== -1) continue;
      cost[source] = cost[state]! + 1;
      order[count] = source;
      count += 1;
    }
  }
  return { cost, order, count };
}

/** Solves a kernel exactly; returns null when no plan reaches a goal. */
export function analyzeKernel(kernel: Kernel): KernelAnalysis | null {
  const reach = exploreForward(kernel);
  const { cost, order, count } = costsToGoal(kernel, reach);
  const optimalLength = cost[kernel.start]!;
  if (optimalLength < 0) return null;
  const actionCount = kernel.actions.length;
  // ways[s]: optimal action sequences from s, filled in order of increasing cost, capped.
  const ways = new Float64Array(kernel.numStates);
  for (let i = 0; i < count; i += 1) {
    const state = order[i]!;
    const d = cost[state]!;
    if (d === 0) {
      ways[state] = 1;
      continue;
    }
    if (d > optimalLength) break;
    let total = 0;
    for (let a = 0; a < actionCount; a += 1) {
      const target = reach.next[state * actionCount + a]!;
      if (target >= 0 && cost[target] === d - 1) total += ways[target]!;
    }
    ways[state] = Math.min(total, OPTIMAL_PLAN_COUNT_CAP);
  }
  return {
    optimalLength,
    numOptimalPlans: ways[kernel.start]!,
    plan: canonicalPlan(kernel, reach.next, cost),
    costToGoal: cost,
  };
}

function canonicalPlan(kernel: Kernel, next: Int32Array, cost: Int32Array): Action[] {
  const actionCount = kernel.actions.length;
  const plan: Action[] = [];
  let state = kernel.start;
  while (cost[state]! > 0) {
    for (let a = 0; a < actionCount; a += 1) {
      const target = next[state * actionCount + a]!;
      if (target >= 0 && cost[target] === cost[state]! - 1) {
        plan.push(kernel.actions[a]!);
        state = target;
        break;
      }
    }
  }
  return plan;
}

/**
 * The solution alone (no remaining-cost map), by a forward BFS and one backward pass over the BFS
 * order — no reversed graph, about twice as fast as `analyzeKernel` (the generation hot path).
 * A state lies on an optimal plan iff it has completions (`ways` > 0) through states one BFS layer
 * deeper, so the plan count and the canonical plan equal `analyzeKernel`'s (tested).
 */
export function solveKernel(kernel: Kernel): Pick<KernelAnalysis, 'optimalLength' | 'numOptimalPlans' | 'plan'> | null {
  const actionCount = kernel.actions.length;
  const dist = new Int32Array(kernel.numStates).fill(-1);
  const order = new Int32Array(kernel.numStates);
  const next = new Int32Array(kernel.numStates * actionCount).fill(-1);
  dist[kernel.start] = 0;
  order[0] = kernel.start;
  let count = 1;
  let optimalLength = -1;
  for (let head = 0; head < count; head += 1) {
    const state = order[head]!;
    if (optimalLength >= 0 && dist[state]! >= optimalLength) break; // deeper layers never matter
    if (kernel.isGoal(state)) {
      optimalLength = dist[state]!;
      continue;
    }
    for (let a = 0; a < actionCount; a += 1) {
      const target = kernel.step(state, kernel.actions[a]!, SOLVER_RULES);
      if (target < 0 || target === state) continue;
      next[state * actionCount + a] = target;
      if (dist[target] === -1) {
        dist[target] = dist[state]! + 1;
        order[count] = target;
        count += 1;
      }
    }
  }
  if (optimalLength < 0) return null;
  // ways[s]: optimal completions from s (0 = not on an optimal plan), filled deepest layer first.
  const ways = new Float64Array(kernel.numStates);
  for (let i = count - 1; i >= 0; i -= 1) {
    const state = order[i]!;
    const d = dist[state]!;
    if (d === optimalLength) {
      if (kernel.isGoal(state)) ways[state] = 1;
      continue;
    }
    if (d > optimalLength) continue;
    let total = 0;
    for (let a = 0; a < actionCount; a += 1) {
      const target = next[state * actionCount + a]!;
      if (target >= 0 && dist[target] === d + 1) total += ways[target]!;
    }
    ways[state] = Math.min(total, OPTIMAL_PLAN_COUNT_CAP);
  }
  const plan: Action[] = [];
  for (let state = kernel.start; !kernel.isGoal(state); ) {
    for (let a = 0; a < actionCount; a += 1) {
      const target = next[state * actionCount + a]!;
      if (target >= 0 && dist[target] === dist[state]! + 1 && ways[target]! > 0) {
        plan.push(kernel.actions[a]!);
        state = target;
        break;
      }
    }
  }
  return { optimalLength, numOptimalPlans: ways[kernel.start]!, plan };
}

/**
 * Unit-cost BFS distances over an `n`×`n` grid of cells from `source`, 4-connected, where
 * `isBlocked(index)` cells are never entered (the source itself may be blocked). -1 = unreachable.
 */
export function gridDistances(n: number, source: number, isBlocked: (index: number) => boolean): Int32Array {
  const dist = new Int32Array(n * n).fill(-1);
  const queue = new Int32Array(n * n);
  dist[source] = 0;
  queue[0] = source;
  let tail = 1;
  for (let head = 0; head < tail; head += 1) {
    const cell = queue[head]!;
    const row = Math.floor(cell / n);
    const col = cell % n;
    const candidates = [col > 0 ? cell - 1 : -1, row < n - 1 ? cell + n : -1, col < n - 1 ? cell + 1 : -1, row > 0 ? cell - n : -1];
    for (const target of candidates) {
      if (target < 0 || dist[target] !== -1 || isBlocked(target)) continue;
      dist[target] = dist[cell]! + 1;
      queue[tail] = target;
      tail += 1;
    }
  }
  return dist;
}

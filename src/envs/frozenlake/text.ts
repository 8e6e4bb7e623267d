/**
 * FrozenLake symbolic state as text (no prose: the labelled wording lives in `prompts.ts`).
 *
 * - the text map: the N rows over S F H G, one per line, row 0 first;
 * - the compact state: `N<size>` then the text map, e.g. `N3\nSFH\nFFF\nHFG`;
 * - `parseCompactFrozenLakeState` reads the compact state back (round-trip tests, tools).
 */
import { invalidInstance } from '../core/checks.js';
import type { FrozenLakeInstance } from '../types.js';
import { checkFrozenLakeShape } from './instance.js';

/** The N rows, one per line. */
export function frozenLakeTextMap(instance: FrozenLakeInstance): string {
  return instance.rows.join('\n');
}

/** The compact text state: `N4` then the rows. */
export function compactFrozenLakeState(instance: FrozenLakeInstance): string {
  return `N${instance.level}\n${frozenLakeTextMap(instance)}`;
}

/** Reads a compact text state back into an instance (checks shape and symbols). */
export function parseCompactFrozenLakeState(state: string): FrozenLakeInstance {
  const [header = '', ...rows] = state.trim().split('\n');
  const level = Number(header.slice(1));
  if (!header.startsWith('N') || !Number.isInteger(level)) {
    throw invalidInstance('frozenlake', header, `compact state must start with N<size>, got ${JSON.stringify(header)}.`);
  }
  const instance: FrozenLakeInstance = { task: 'frozenlake', level, rows };
  checkFrozenLakeShape(instance);
  return instance;
}

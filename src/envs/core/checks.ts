/**
 * Argument and instance checks shared by the three tasks; each failure is an `EnvError` that says
 * what was wrong, where (task, level, seed or field), and what to do.
 */
import { EnvError } from '../../errors.js';
import type { EnvName, Pos } from '../types.js';

/** Codes of the errors `envs/` throws. */
export const ENV_ERROR_CODES = {
  invalidInstance: 'ENV_INVALID_INSTANCE',
  unsolvable: 'ENV_UNSOLVABLE',
  badLevel: 'ENV_BAD_LEVEL',
  badOption: 'ENV_BAD_OPTION',
  generationFailed: 'ENV_GENERATION_FAILED',
  badRender: 'ENV_BAD_RENDER_OPTIONS',
  unknownTask: 'ENV_UNKNOWN_TASK',
} as const;

/** Throws unless `level` is an integer in `[min, max]`. */
export function checkLevel(task: EnvName, level: number, min: number, max: number): void {
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new EnvError(ENV_ERROR_CODES.badLevel, `${task}: level ${level} is not supported; expected an integer grid side in ${min}–${max}.`, {
      hint: `Use a level between ${min} and ${max} in tasks.${task}.levels.`,
      context: { task, level },
    });
  }
}

/** Throws unless `seed` is an unsigned 32-bit integer. */
export function checkSeed(task: EnvName, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EnvError(ENV_ERROR_CODES.badOption, `${task}: seed ${seed} is not an unsigned 32-bit integer.`, {
      hint: 'Derive seeds with deriveSeed(...) from src/envs/index.ts.',
      context: { task, seed },
    });
  }
}

/** An `EnvError` for a malformed instance. */
export function invalidInstance(task: EnvName, level: unknown, problem: string, hint?: string): EnvError {
  return new EnvError(ENV_ERROR_CODES.invalidInstance, `${task} level ${String(level)}: ${problem}`, {
    hint: hint ?? 'Fix the instance (or the importer that built it); `validate` lists what an instance must satisfy.',
    context: { task, level },
  });
}

/** Throws unless `pos` is an integer cell on an `n`×`n` grid. */
export function checkCell(task: EnvName, level: number, field: string, pos: unknown): asserts pos is Pos {
  const cell = pos as Partial<Pos> | null;
  const isCell =
    typeof cell === 'object' && cell !== null && Number.isInteger(cell.row) && Number.isInteger(cell.col);
  if (!isCell || cell.row! < 0 || cell.col! < 0 || cell.row! >= level || cell.col! >= level) {
    throw invalidInstance(task, level, `${field} ${JSON.stringify(pos)} is not a cell of the ${level}×${level} grid (0-based {row, col}).`);
  }
}

/** Throws unless `instance.task` is `task` and its level is an integer in range. */
export function checkHeader(task: EnvName, instance: { task?: unknown; level?: unknown }, min: number, max: number): number {
  if (instance.task !== task) {
    throw invalidInstance(task, instance.level, `task is ${JSON.stringify(instance.task)}, expected "${task}".`);
  }
  const level = instance.level;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < min || level > max) {
    throw invalidInstance(task, level, `level must be an integer in ${min}–${max}.`);
  }
  return level;
}

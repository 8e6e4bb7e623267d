/**
 * How `--set` values combine with a preset, and what a run changed from it.
 *
 * - A mapping value *updates* the section it names (`--set "stages.opsd={steps: 50}"` keeps every
 *   other OPSD key of the preset); any other value (a scalar, a list) replaces the key.
 * - `changedKeys` lists the dotted paths whose resolved values differ between two configs, so a
 *   run can say, and record, exactly what it changed from its preset.
 */

/** True for a plain mapping (not a list, not null). */
function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `value` merged into `existing`: mappings update key by key (recursively), the rest replaces. */
export function mergeValue(existing: unknown, value: unknown): unknown {
  if (!isMapping(existing) || !isMapping(value)) return value;
  const merged: Record<string, unknown> = { ...existing };
  for (const [key, inner] of Object.entries(value)) {
    // defineProperty, not `merged[key] =`: a key named __proto__ must stay a plain (rejected) key.
    const next = Object.hasOwn(existing, key) ? mergeValue(existing[key], inner) : inner;
    Object.defineProperty(merged, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

/** One changed key: its dotted path, the preset's value and the run's. */
export interface ChangedKey {
  key: string;
  from: unknown;
  to: unknown;
}

/** The leaf keys whose values differ between `before` and `after` (lists compare as wholes), sorted. */
export function changedKeys(before: unknown, after: unknown, prefix = ''): ChangedKey[] {
  if (isMapping(before) && isMapping(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => changedKeys(before[key], after[key], prefix === '' ? key : `${prefix}.${key}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ key: prefix, from: before ?? null, to: after ?? null }];
}

/** `key=value` for each change, as one would pass it to `--set`. */
export function formatChanges(changes: readonly ChangedKey[]): string[] {
  return changes.map((change) => `${change.key}=${JSON.stringify(change.to)}`);
}

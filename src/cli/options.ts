/** Small helpers for commander options shared by several commands. */

/** Commander reducer for repeatable options (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

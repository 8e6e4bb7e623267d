/** Small helpers shared by several commands. */
import { Progress } from '../experiment/progress.js';

/** Commander reducer for repeatable options (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Progress lines on stderr (redrawn in place on a terminal). */
export function stderrProgress(): Progress {
  return new Progress({ write: (text) => process.stderr.write(text), isTty: Boolean(process.stderr.isTTY) });
}

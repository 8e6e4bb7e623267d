/**
 * CPU time of this process and of every child it has reaped (the backend workers and all their
 * ranks, once closed), read from `/proc/self/stat` (utime, stime, cutime, cstime). `results.json`
 * reports the difference over a run as `cpu_seconds`, beside `wall_seconds`: their ratio is how many
 * cores the run kept busy on average.
 *
 * Linux only: elsewhere `cpuSecondsSoFar` returns null and `cpu_seconds` is null (documented in
 * docs/scale-out.md), rather than a number that leaves the workers out.
 */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;

/** CPU seconds of this process plus its reaped children so far, or null without /proc. */
export function cpuSecondsSoFar(): number | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces: the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14–17.
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
  return Number.isFinite(ticks) ? ticks / CLOCK_TICKS : null;
}

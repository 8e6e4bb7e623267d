/** `--report-to a,b` (run, sweep) as the `reportTo` override it stands for. */
import { parseTrackers } from '../trackers/sink.js';

/** The `--set` expression of `--report-to` (none when the flag is absent). */
export function reportToOverride(list: string | undefined): string[] {
  return list === undefined ? [] : [`reportTo=[${parseTrackers(list).join(',')}]`];
}

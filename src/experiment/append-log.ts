/**
 * Append-only JSONL logs of a run (metrics, rollout ledger).
 *
 * Lines are only ever appended. A checkpoint records each log's byte length; resuming from that
 * checkpoint cuts the log back to it, dropping exactly the lines of steps that are about to be
 * re-done, so a resumed run's logs have no line lost and none duplicated. Every append is one
 * `write` of whole lines, so a crash leaves at most one torn last line, which `open` removes.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';

import { DataError } from '../errors.js';

/** One append-only JSONL file. */
export class AppendLog {
  private fd: number;

  private constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  /** Opens (creating) `path`; a torn last line from a crash is cut off. */
  static open(path: string): AppendLog {
    if (existsSync(path)) {
      const text = readFileSync(path);
      const end = text.lastIndexOf(0x0a) + 1;
      if (end !== text.length) {
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, end);
        closeSync(fd);
      }
    }
    return new AppendLog(path);
  }

  /** Appends records as lines. */
  append(records: readonly object[]): void {
    if (records.length === 0) return;
    writeSync(this.fd, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  }

  /** Current length in bytes (what a checkpoint records). */
  size(): number {
    return fstatSync(this.fd).size;
  }

  /** Cuts the log back to `bytes` (a size recorded by a checkpoint). */
  truncateTo(bytes: number): void {
    const size = this.size();
    if (bytes > size) throw new RangeError(`${this.path}: cannot cut back to ${bytes} bytes, the log has ${size}`);
    ftruncateSync(this.fd, bytes);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads a JSONL log back (for reports); skips nothing silently: a bad line throws with its number. */
export function readLog(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, index) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch (error) {
        throw new DataError('log_invalid', `${path}:${index + 1}: not valid JSON (${(error as Error).message})`, {
          cause: error,
          hint: 'mgsd only appends whole lines here; restore the file, or delete that line and the ones after it.',
          context: { path, line: index + 1 },
        });
      }
    });
}

/**
 * A worker's log file: its stderr (and any stray stdout), plus the client's own notes about it.
 *
 * Keeps the last lines in memory so a crash error can quote them without reading the file back.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

const TAIL_LINES = 30;

/** One worker's log file plus an in-memory tail of its last lines. */
export class WorkerLog {
  readonly path: string;
  private readonly stream: WriteStream;
  private readonly tail: string[] = [];
  private partial = '';

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.stream = createWriteStream(path, { flags: 'a' });
    // NOTE: a log that cannot be written must not crash the run; the error is kept in the tail.
    this.stream.on('error', (error) => this.remember(`[mgsd client] cannot write ${path}: ${error.message}`));
  }

  /** Appends a chunk of the worker's output (stderr or stdout). */
  writeOutput(chunk: Buffer | string, stream: 'stderr' | 'stdout' = 'stderr'): void {
    const text = chunk.toString();
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.remember(stream === 'stdout' ? `[stdout] ${line}` : line);
    if (!this.stream.writableEnded) this.stream.write(stream === 'stdout' ? prefixLines('[stdout] ', text) : text);
  }

  /** Appends a note from the client side (handshake, strangers, shutdown steps). */
  note(message: string): void {
    const line = `[mgsd client ${new Date().toISOString()}] ${message}`;
    this.remember(line);
    if (!this.stream.writableEnded) this.stream.write(`${line}\n`);
  }

  /** The last lines written, oldest first. */
  lastLines(count = 12): string[] {
    const lines = this.partial ? [...this.tail, this.partial] : [...this.tail];
    return lines.slice(-count);
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.stream.writableEnded) return;
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
}

function prefixLines(prefix: string, text: string): string {
  return text.replace(/^(?=.)/gm, prefix);
}

/** The last lines of a worker's log as an indented block for error messages ('' when empty). */
export function stderrBlock(log: WorkerLog, count = 12): string {
  const lines = log.lastLines(count);
  return lines.length ? `\nLast lines of its log (${log.path}):\n${lines.map((line) => `  ${line}`).join('\n')}` : '';
}

/**
 * JSON Lines: reading with `file:line` positions, and writing in a stable byte form.
 *
 * Lines are numbered from 1 in messages (as editors show them); blank lines are skipped but still
 * counted, so a reported line number always points at the real line. Every failure is a
 * `DataError` that names the file and line.
 */
import { readFileSync } from 'node:fs';

import type { z } from 'zod';

import { DataError, type MgsdError, type MgsdErrorOptions } from '../errors.js';

/** One non-blank line of a JSONL file. */
export interface JsonlLine {
  /** 1-based line number in the file. */
  lineNumber: number;
  text: string;
}

/** The parsed value of one line, with its position. */
export interface JsonlRow<T> {
  lineNumber: number;
  value: T;
}

/** An error class of `errors.ts` (DataError by default; load.ts passes ConfigError). */
type ErrorClass = new (code: string, message: string, options?: MgsdErrorOptions) => MgsdError;

/**
 * Reads a UTF-8 text file for `what` ("responses file"). A missing or unreadable path, a folder
 * and a binary file (a NUL byte, or bytes that are not UTF-8) are errors naming the file; a leading
 * byte-order mark is dropped, so it can never show up as an invisible character in a value.
 */
export function readTextFile(path: string, what: string, ErrorType: ErrorClass = DataError): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EISDIR' ? 'it is a folder, not a file' : code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ErrorType('file_unreadable', `cannot read ${what} ${path}: ${reason}`, {
      cause: error,
      hint: code === 'EISDIR' ? `Pass the ${what} itself, not its folder.` : 'Check the path (relative paths are resolved from the current directory).',
      context: { path },
    });
  }
  const binaryAt = bytes.indexOf(0);
  let text: string | null = null;
  try {
    // NOTE: TextDecoder drops a leading BOM itself (ignoreBOM is false).
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  if (binaryAt >= 0 || text === null) {
    throw new ErrorType('file_binary', `${path}: a binary file${binaryAt >= 0 ? ` (a NUL byte at offset ${binaryAt})` : ' (not valid UTF-8 text)'}, not a ${what}`, {
      hint: `Pass the ${what} as UTF-8 text.`,
      context: { path },
    });
  }
  return text;
}

/** Splits JSONL text into its non-blank lines, keeping 1-based line numbers. */
export function splitJsonlLines(text: string): JsonlLine[] {
  const lines: JsonlLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() !== '') lines.push({ lineNumber: index + 1, text: line });
  });
  return lines;
}

/** Parses one line as JSON; bad JSON is a `DataError` at `file:line`. */
export function parseJsonLine(file: string, line: JsonlLine): unknown {
  try {
    return JSON.parse(line.text) as unknown;
  } catch (error) {
    throw new DataError('jsonl_bad_json', `${file}:${line.lineNumber}: not valid JSON (${(error as Error).message})`, {
      cause: error,
      hint: 'Each line must hold exactly one JSON object.',
      context: { file, line: line.lineNumber },
    });
  }
}

/** Validates a parsed line against `schema`; problems are listed one per issue with their paths. */
export function validateLine<S extends z.ZodType>(file: string, lineNumber: number, value: unknown, schema: S): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `  ${issue.path.length > 0 ? issue.path.join('.') : '(line)'}: ${issue.message}`)
    .join('\n');
  throw new DataError('jsonl_bad_record', `${file}:${lineNumber}: record does not match the expected shape\n${issues}`, {
    context: { file, line: lineNumber },
  });
}

/** Reads and validates every non-blank line of a JSONL file. */
export function readJsonl<S extends z.ZodType>(path: string, schema: S, what: string): Array<JsonlRow<z.infer<S>>> {
  return splitJsonlLines(readTextFile(path, what)).map((line) => ({
    lineNumber: line.lineNumber,
    value: validateLine(path, line.lineNumber, parseJsonLine(path, line), schema),
  }));
}

/** Serialises rows as JSON Lines (one compact object per line, trailing newline). */
export function formatJsonl(rows: readonly unknown[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

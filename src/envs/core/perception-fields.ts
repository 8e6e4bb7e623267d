/**
 * Grading of perception fields: one read-out value against the truth, sets compared as sets.
 *
 * A field's value is a size (number), a cell, a list of cells (a set), a list of words (a set), or
 * a map from cell key `r,c` to a list of words (each list a set; keys must match exactly). Cell
 * lists and word lists are compared order-insensitively and without duplicates, the way the
 * official perception evaluator compares them. Helpers to read `(r,c)` lists back from text live
 * here too, so every task parses coordinates the same way.
 */
import type { PerceptionValue, Pos } from '../types.js';

/** Per-field exact match (a field missing from `actual` is wrong) and whether all matched. */
export interface FieldGrade {
  fields: Record<string, boolean>;
  allExact: boolean;
}

function isPos(value: unknown): value is Pos {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'row' in value && 'col' in value;
}

/** A canonical string for a value: sets sorted and de-duplicated. */
export function canonicalValue(value: PerceptionValue): string {
  if (typeof value === 'number' || typeof value === 'string') return JSON.stringify(value);
  if (isPos(value)) return `(${value.row},${value.col})`;
  if (Array.isArray(value)) {
    const items = (value as (Pos | string)[]).map((item) => (isPos(item) ? `(${item.row},${item.col})` : JSON.stringify(item)));
    return `{${[...new Set(items)].sort().join(';')}}`;
  }
  const entries = Object.entries(value).map(([key, words]) => `${key}=${[...new Set(words)].sort().join('|')}`);
  return `map{${entries.sort().join(';')}}`;
}

/** True when `actual` equals `expected`, sets as sets. */
export function sameValue(expected: PerceptionValue, actual: PerceptionValue | undefined): boolean {
  return actual !== undefined && canonicalValue(expected) === canonicalValue(actual);
}

/** Grades every field of `expected` against `actual`. */
export function gradeFields(
  expected: Record<string, PerceptionValue>,
  actual: Record<string, PerceptionValue>,
): FieldGrade {
  const fields: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(expected)) fields[name] = sameValue(value, actual[name]);
  return { fields, allExact: Object.values(fields).every(Boolean) };
}

const PAPER_POS = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/g;

/** Every `(r,c)` in `text`, in order. */
export function readPositions(text: string): Pos[] {
  return [...text.matchAll(PAPER_POS)].map((match) => ({ row: Number(match[1]), col: Number(match[2]) }));
}

/** The first `(r,c)` in `text`, if any. */
export function readPosition(text: string): Pos | undefined {
  return readPositions(text)[0];
}

/** The `N` of the first `NxN` (or `N×N`, `N x N`) in `text`, if any. */
export function readSize(text: string): number | undefined {
  const match = /(\d+)\s*[x×X]\s*(\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** A compact `rc` coordinate (two hex digits), if `text` is exactly one. */
export function readCompactPos(text: string): Pos | undefined {
  if (!/^[0-9a-f]{2}$/.test(text)) return undefined;
  return { row: parseInt(text[0]!, 16), col: parseInt(text[1]!, 16) };
}

/** The key `r,c` used by per-cell maps. */
export function cellKey(pos: Pos): string {
  return `${pos.row},${pos.col}`;
}

/**
 * Splits a paper answer into its numbered sections (`1. …`, `2. …`), keyed by number; each
 * section continues over the per-cell table lines (`(r,c): …`) that follow it.
 */
export function numberedSections(text: string): Map<number, string> {
  const sections = new Map<number, string>();
  const lines = text.split('\n');
  let current: number | null = null;
  for (const line of lines) {
    const match = /^\s*(\d+)[.)]\s?(.*)$/.exec(line);
    if (match) {
      current = Number(match[1]);
      sections.set(current, match[2] ?? '');
    } else if (current !== null && isContinuation(line)) {
      sections.set(current, `${sections.get(current)}\n${line}`);
    }
  }
  return sections;
}

/** Only per-cell table lines (`(r,c): …`) continue a section; prose after it does not. */
function isContinuation(line: string): boolean {
  return line.trimStart().startsWith('(');
}

/**
 * Splits a labelled read-out (`Label: value` lines) into sections keyed by lower-case label; a
 * section continues over the per-cell table lines that follow it.
 */
export function labelledSections(text: string, labels: readonly string[]): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const label = labels.find((candidate) => line.toLowerCase().startsWith(`${candidate.toLowerCase()}:`));
    if (label !== undefined) {
      current = label.toLowerCase();
      sections.set(current, line.slice(label.length + 1));
    } else if (current !== null && isContinuation(line)) {
      sections.set(current, `${sections.get(current)}\n${line}`);
    }
  }
  return sections;
}

/**
 * How one perception field is found in an answer and read: in a paper answer by its question number
 * (`section`, "1. …") or its label (`label`, "Map size: …"); in a compact read-out by its one-letter
 * tag. `read` gets the section text and the fields read so far (later fields may depend on earlier
 * ones, e.g. a maze's wall digits on its size) and returns undefined when it cannot read a value.
 */
export interface FieldReader {
  field: string;
  section?: number;
  label?: string;
  tag?: string;
  read: (text: string, fields: Record<string, PerceptionValue>) => PerceptionValue | undefined;
}

/** Reads the fields of a paper answer (numbered sections first, then labels); missing ones are absent. */
export function readPaperFields(text: string, readers: readonly FieldReader[]): Record<string, PerceptionValue> {
  const numbered = numberedSections(text);
  const labelled = labelledSections(text, readers.flatMap((reader) => (reader.label === undefined ? [] : [reader.label])));
  return readFields(readers, (reader) => (reader.section === undefined ? undefined : numbered.get(reader.section)) ?? (reader.label === undefined ? undefined : labelled.get(reader.label.toLowerCase())));
}

/** Reads the fields of a compact read-out (`N4 S00 G33 …`) by their tags. */
export function readCompactFields(tokens: Map<string, string>, readers: readonly FieldReader[]): Record<string, PerceptionValue> {
  return readFields(readers, (reader) => (reader.tag === undefined ? undefined : tokens.get(reader.tag)));
}

function readFields(readers: readonly FieldReader[], sectionOf: (reader: FieldReader) => string | undefined): Record<string, PerceptionValue> {
  const fields: Record<string, PerceptionValue> = {};
  for (const reader of readers) {
    const section = sectionOf(reader);
    const value = section === undefined ? undefined : reader.read(section, fields);
    if (value !== undefined) fields[reader.field] = value;
  }
  return fields;
}

/** Reads a compact size token (`4`). */
export function readCompactSize(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

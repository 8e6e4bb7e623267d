import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { DataError } from '../errors.js';
import { formatJsonl, readJsonl, splitJsonlLines } from './jsonl.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-jsonl-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const Row = z.object({ id: z.string(), n: z.number() });

describe('jsonl', () => {
  it('keeps real 1-based line numbers across blank lines and CRLF', () => {
    expect(splitJsonlLines('{"a":1}\r\n\n  \n{"b":2}\n')).toEqual([
      { lineNumber: 1, text: '{"a":1}' },
      { lineNumber: 4, text: '{"b":2}' },
    ]);
  });

  it('round-trips rows through formatJsonl and readJsonl', () => {
    const path = join(root, 'rows.jsonl');
    const rows = [{ id: 'a', n: 1 }, { id: 'b/2', n: 2.5 }];
    writeFileSync(path, formatJsonl(rows));
    expect(readJsonl(path, Row, 'rows').map((row) => row.value)).toEqual(rows);
  });

  it('names file:line for bad JSON and for a record of the wrong shape', () => {
    const path = join(root, 'bad.jsonl');
    writeFileSync(path, '{"id":"a","n":1}\n\n{"id": oops}\n');
    expect(() => readJsonl(path, Row, 'rows')).toThrow(DataError);
    expect(() => readJsonl(path, Row, 'rows')).toThrow(`${path}:3: not valid JSON`);
    writeFileSync(path, '{"id":"a","n":"one"}\n');
    expect(() => readJsonl(path, Row, 'rows')).toThrow(new RegExp(`${path}:1: record does not match[^]*n: `));
  });

  it('names the file when it cannot be read', () => {
    expect(() => readJsonl(join(root, 'missing.jsonl'), Row, 'rows')).toThrow(/cannot read rows .*missing\.jsonl/);
  });
});

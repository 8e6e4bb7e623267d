import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { MgsdError } from './errors.js';
import { assertWritableFile, writeFileAtomic } from './fs-atomic.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-fs-atomic-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces a file whole and leaves no temporary file', () => {
    const path = join(root, 'a', 'out.json');
    writeFileAtomic(path, 'old');
    writeFileAtomic(path, new Uint8Array([110, 101, 119]));
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(join(root, 'a'))).toEqual(['out.json']);
  });

  it('fails naming the target and its flag, keeps what was there, and cleans up', () => {
    const path = join(root, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'keep.txt'), 'keep');
    let caught: unknown;
    try {
      writeFileAtomic(path, 'data', { label: '--out' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MgsdError);
    expect((caught as MgsdError).message).toBe(`cannot write --out ${path}: it is a folder, not a file`);
    expect((caught as MgsdError).hint).toMatch(/file name, not a folder/);
    expect(readdirSync(root)).toEqual(['taken']);
    expect(readFileSync(join(path, 'keep.txt'), 'utf8')).toBe('keep');
  });

  it('reports a path through a file as such, for writes and for the up-front check', () => {
    writeFileSync(join(root, 'file'), 'x');
    expect(() => writeFileAtomic(join(root, 'file', 'out.jsonl'), 'x', { label: '--summary' })).toThrow(/cannot write --summary .*: a part of the path is a file/);
    expect(() => assertWritableFile(join(root, 'file', 'out.jsonl'), { label: '--out' })).toThrow(/cannot write --out .*: a part of the path is a file/);
    expect(() => assertWritableFile(root, { label: '--out' })).toThrow(/it is a folder, not a file/);
    assertWritableFile(join(root, 'new', 'ok.jsonl'));
    expect(readdirSync(join(root, 'new'))).toEqual([]);
  });
});

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DataError } from '../errors.js';
import { writeAtomicDir } from './atomic-dir.js';
import { DATASET_FORMAT } from './manifest.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-atomic-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('writeAtomicDir', () => {
  it('moves a complete directory into place and records each file hash', () => {
    const out = join(root, 'nested', 'ds');
    const hashes = writeAtomicDir(out, { shouldReplace: false }, (dir) => {
      dir.writeFile('b/x.txt', 'hello');
      dir.writeFile('a.txt', new Uint8Array([1, 2, 3]));
      return dir.sortedHashes();
    });
    expect(readFileSync(join(out, 'b/x.txt'), 'utf8')).toBe('hello');
    expect(Object.keys(hashes)).toEqual(['a.txt', 'b/x.txt']);
    // sha256("hello")
    expect(hashes['b/x.txt']).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(readdirSync(join(root, 'nested'))).toEqual(['ds']);
  });

  it('leaves nothing behind when filling fails, and rethrows the error unchanged', () => {
    const out = join(root, 'ds');
    const failure = new Error('boom');
    expect(() =>
      writeAtomicDir(out, { shouldReplace: false }, (dir) => {
        dir.writeFile('a.txt', 'partial');
        throw failure;
      }),
    ).toThrow(failure);
    expect(readdirSync(root)).toEqual([]);
  });

  it('refuses an existing output unless asked to replace it', () => {
    const out = oldDataset();
    expect(() => writeAtomicDir(out, { shouldReplace: false }, () => undefined)).toThrow(DataError);
    expect(() => writeAtomicDir(out, { shouldReplace: false }, () => undefined)).toThrow(/already exists.*/);
    writeAtomicDir(out, { shouldReplace: true }, (dir) => dir.writeFile('new.txt', 'new'));
    expect(readdirSync(out)).toEqual(['new.txt']);
    expect(readdirSync(root)).toEqual(['ds']);
  });

  it('keeps the previous version when a replacing build fails', () => {
    const out = oldDataset();
    expect(() =>
      writeAtomicDir(out, { shouldReplace: true }, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(existsSync(join(out, 'old.txt'))).toBe(true);
    expect(readdirSync(root)).toEqual(['ds']);
  });

  it('replaces with shouldReplace only a dataset mgsd wrote or an empty folder, never a file or another folder', () => {
    const file = join(root, 'notes.txt');
    writeFileSync(file, 'mine');
    expect(() => writeAtomicDir(file, { shouldReplace: true }, () => undefined)).toThrow(/is a file, not a dataset directory/);
    const folder = join(root, 'photos');
    mkdirSync(folder);
    writeFileSync(join(folder, 'a.jpg'), 'jpg');
    expect(() => writeAtomicDir(folder, { shouldReplace: true }, () => undefined)).toThrow(/is not a dataset mgsd wrote/);
    const run = join(root, 'run');
    mkdirSync(run);
    writeFileSync(join(run, 'config.resolved.json'), '{}');
    writeFileSync(join(run, 'manifest.json'), '{"mgsd": "0.1.0"}');
    expect(() => writeAtomicDir(run, { shouldReplace: true }, () => undefined)).toThrow(/is not a dataset mgsd wrote/);
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(readdirSync(folder)).toEqual(['a.jpg']);
    expect(readdirSync(run).sort()).toEqual(['config.resolved.json', 'manifest.json']);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    writeAtomicDir(empty, { shouldReplace: true }, (dir) => dir.writeFile('new.txt', 'new'));
    expect(readdirSync(empty)).toEqual(['new.txt']);
  });

  it('reports a file-system failure for the output, not for its staging folder', () => {
    const blocker = join(root, 'blocker');
    writeFileSync(blocker, 'a file where a folder is needed');
    expect(() => writeAtomicDir(join(blocker, 'ds'), { shouldReplace: false }, () => undefined)).toThrow(
      new RegExp(`cannot write --out ${blocker}/ds: a part of the path is a file`),
    );
  });
});

/** A folder holding a (minimal) mgsd dataset manifest and one old file. */
function oldDataset(): string {
  const out = join(root, 'ds');
  mkdirSync(out);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ format: DATASET_FORMAT }));
  writeFileSync(join(out, 'old.txt'), 'old');
  return out;
}

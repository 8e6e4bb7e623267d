import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readBenchmark, resolveBenchmarkFile, tableTopLeftOf } from './benchmarks.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mgsd-bench-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('tableTopLeftOf', () => {
  it('accepts exactly a 2-row × 3-column block in any order', () => {
    const cells = [[4, 3], [3, 1], [4, 1], [3, 2], [4, 2], [3, 3]].map(([row, col]) => ({ row: row!, col: col! }));
    expect(tableTopLeftOf(cells)).toEqual({ row: 3, col: 1 });
  });

  it('rejects 3×2 blocks, gaps, repeats and wrong counts', () => {
    const of = (pairs: number[][]): ReturnType<typeof tableTopLeftOf> => tableTopLeftOf(pairs.map(([row, col]) => ({ row: row!, col: col! })));
    expect(of([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]])).toBeNull();
    expect(of([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 3]])).toBeNull();
    expect(of([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 1]])).toBeNull();
    expect(of([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]])).toBeNull();
  });
});

describe('readBenchmark', () => {
  it.each([
    ['vsp-frozenlake', 'benchmarks/vsp-frozenlake.jsonl', 600],
    ['vprl-frozenlake', 'benchmarks/vprl-frozenlake-test.jsonl', 1000],
    ['vprl-minibehaviour', 'benchmarks/vprl-minibehaviour-test.jsonl', 403],
  ] as const)('reads every line of %s and agrees with the published optimal lengths', (kind, file, count) => {
    const read = readBenchmark(kind, resolveBenchmarkFile(file));
    expect(read.issues).toEqual([]);
    expect(read.entries).toHaveLength(count);
    for (const entry of read.entries) {
      if (entry.publishedOptimalLength !== null) expect(entry.solution.optimalLength).toBe(entry.publishedOptimalLength);
    }
  });

  it('reports each malformed line with its reason and 1-based line number', () => {
    const path = join(root, 'mb.jsonl');
    const good = { level: 5, start: [2, 4], start_dir: 3, printer: [1, 1], table: [[3, 1], [4, 1], [3, 2], [4, 2], [3, 3], [4, 3]], optimal_length: 5 };
    writeFileSync(
      path,
      [
        JSON.stringify(good),
        JSON.stringify({ ...good, optimal_length: 7 }),
        JSON.stringify({ ...good, start: [3, 2] }),
        JSON.stringify({ ...good, start_dir: 9 }),
        '',
        'nonsense',
      ].join('\n'),
    );
    const read = readBenchmark('vprl-minibehaviour', path);
    expect(read.entries.map((entry) => entry.id)).toEqual(['mb/0']);
    expect(read.issues.map((issue) => issue.lineNumber)).toEqual([2, 3, 4, 6]);
    expect(read.issues[0]!.reason).toBe('published optimal_length 7 but the exact solver finds 5');
    expect(read.issues[2]!.reason).toMatch(/^start_dir: /);
    expect(read.issues[3]!.reason).toMatch(/^not valid JSON/);
  });
});

import { describe, expect, it } from 'vitest';

import { EnvError } from '../../errors.js';
import type { BucketSearch } from './buckets.js';
import { actionCountBucket, drawInBucket, pathLengthBucket } from './buckets.js';

describe('bucket thresholds', () => {
  it('follow the official generators', () => {
    expect([1, 2, 3, 4, 5].map((length) => pathLengthBucket(4, length))).toEqual(['easy', 'easy', 'medium', 'medium', 'hard']);
    expect([1, 2, 3].map((length) => pathLengthBucket(2, length))).toEqual(['easy', 'medium', 'hard']);
    expect([4, 5, 6, 7].map((count) => actionCountBucket(5, count))).toEqual(['easy', 'medium', 'medium', 'hard']);
  });
});

describe('drawInBucket', () => {
  const search = (lengths: (number | null)[], miss: BucketSearch<number>['miss']): BucketSearch<number> => {
    let i = 0;
    return {
      task: 'maze',
      level: 4,
      seed: 9,
      bucket: 'hard',
      maxCandidates: lengths.length,
      miss,
      bucketOf: pathLengthBucket,
      draw: () => {
        const length = lengths[i];
        i += 1;
        return length === null || length === undefined ? null : { value: i, length };
      },
    };
  };

  it('returns the first candidate in the bucket, skipping rejected ones', () => {
    expect(drawInBucket(search([null, 1, 6, 7], 'error'))).toBe(3);
  });

  it('keeps the first valid candidate on a miss (Maze) or throws a named EnvError', () => {
    expect(drawInBucket(search([null, 2, 3], 'keep-first'))).toBe(2);
    expect(() => drawInBucket(search([null, 2, 3], 'error'))).toThrow(EnvError);
    expect(() => drawInBucket(search([2], 'error'))).toThrow('maze level 4 seed 9: no valid instance in bucket "hard" after 1 candidates.');
    expect(() => drawInBucket(search([null], 'keep-first'))).toThrow(/no valid instance in bucket "hard" after 1 candidates/);
  });
});

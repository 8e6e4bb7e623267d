/**
 * Difficulty buckets and the bucket-seeking draw loop shared by the generators.
 *
 * Thresholds (official generators): by shortest-path length L at level N — easy L ≤ max(1, ⌊N/2⌋),
 * medium L ≤ N, hard otherwise (Maze; FrozenLake reuses them, the official code has no FrozenLake
 * buckets); by total action count K including PICK and DROP — easy K ≤ N−1, medium K ≤ N+1, hard
 * otherwise (MiniBehaviour).
 */
import { EnvError } from '../../errors.js';
import type { Bucket, EnvName } from '../types.js';
import { ENV_ERROR_CODES } from './checks.js';

/** Bucket of a shortest-path length (Maze, FrozenLake). */
export function pathLengthBucket(level: number, length: number): Bucket {
  if (length <= Math.max(1, Math.floor(level / 2))) return 'easy';
  return length <= level ? 'medium' : 'hard';
}

/** Bucket of a total action count (MiniBehaviour). */
export function actionCountBucket(level: number, actions: number): Bucket {
  if (actions <= level - 1) return 'easy';
  return actions <= level + 1 ? 'medium' : 'hard';
}

/** What to do when no candidate falls in the requested bucket. */
export type BucketMiss = 'keep-first' | 'error';

/** One bucket-seeking draw. */
export interface BucketSearch<T> {
  task: EnvName;
  level: number;
  seed: number;
  bucket: Bucket | null;
  /** Candidates to try (each counts whether or not it is valid). */
  maxCandidates: number;
  miss: BucketMiss;
  /** Draws the next candidate and its optimal length, or null when it is rejected (unsolvable…). */
  draw(): { value: T; length: number } | null;
  bucketOf(level: number, length: number): Bucket;
}

/**
 * Draws candidates until one is valid and (when a bucket is requested) in the bucket. With
 * `miss: 'keep-first'` the first valid candidate is returned after `maxCandidates` misses (the
 * official Maze fallback); with `'error'` an `EnvError` is thrown.
 */
export function drawInBucket<T>(search: BucketSearch<T>): T {
  let first: T | null = null;
  for (let attempt = 0; attempt < search.maxCandidates; attempt += 1) {
    const candidate = search.draw();
    if (candidate === null) continue;
    if (search.bucket === null || search.bucketOf(search.level, candidate.length) === search.bucket) return candidate.value;
    if (first === null) first = candidate.value;
  }
  if (search.miss === 'keep-first' && first !== null) return first;
  const wanted = search.bucket === null ? 'valid instance' : `valid instance in bucket "${search.bucket}"`;
  throw new EnvError(
    ENV_ERROR_CODES.generationFailed,
    `${search.task} level ${search.level} seed ${search.seed}: no ${wanted} after ${search.maxCandidates} candidates.`,
    {
      hint: 'Request another bucket for this level (or stratify: false), or relax the generator options.',
      context: { task: search.task, level: search.level, seed: search.seed, bucket: search.bucket },
    },
  );
}

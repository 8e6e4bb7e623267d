/**
 * Drawing the instances of one (task, split, level) group: seeded, deduplicated, and — when
 * stratified — asking the generator for easy/medium/hard round-robin.
 *
 * Seeds: candidate `c` of a group uses `deriveSeed(GENERATOR_VERSION, seed, task, split, level, c)`,
 * so a candidate never depends on how many draws other groups needed. Slot `i` takes the next
 * candidate whose `dedupKey` is new; duplicates are skipped (and consume their candidate index).
 * `seen` is shared by every group of a task and pre-filled with the published test sets, which is
 * how a dataset stays deduplicated within and across splits and against the benchmarks.
 */
import { DataError, MgsdError } from '../errors.js';
import { deriveSeed, GENERATOR_VERSION } from '../envs/index.js';
import type { Bucket, EnvName, EnvSpec, GenerateOptions, Instance, Solution } from '../envs/types.js';
import type { Split } from './schema.js';

/** Round-robin order of the requested buckets when a group is stratified. */
export const BUCKET_ORDER: readonly Bucket[] = ['easy', 'medium', 'hard'];

/** A group gives up after this many duplicates in a row (the level has too few distinct puzzles). */
export const MAX_DUPLICATES_IN_A_ROW = 2000;

/** What to draw for one group. */
export interface GroupRequest {
  task: EnvName;
  split: Split;
  level: number;
  count: number;
  /** The dataset seed (`config.data.seed`). */
  seed: number;
  stratify: boolean;
  /** Generator knobs other than the bucket. */
  generate: Omit<GenerateOptions, 'bucket'>;
}

/** One accepted instance of a group, with its solution and provenance. */
export interface DrawnInstance {
  /** Position in the group (0-based); names the record. */
  index: number;
  instance: Instance;
  solution: Solution;
  bucket: Bucket;
  seed: number;
  candidate: number;
}

/** Draws `request.count` new instances; `seen` (dedup keys) is updated in place. */
export function drawGroup(
  spec: EnvSpec,
  request: GroupRequest,
  seen: Set<string>,
  onDrawn: (done: number) => void = () => undefined,
): DrawnInstance[] {
  const drawn: DrawnInstance[] = [];
  let candidate = 0;
  for (let index = 0; index < request.count; index += 1) {
    const requested = request.stratify ? BUCKET_ORDER[index % BUCKET_ORDER.length]! : null;
    let duplicates = 0;
    for (;;) {
      const seed = deriveSeed(GENERATOR_VERSION, request.seed, request.task, request.split, request.level, candidate);
      const instance = generateOne(spec, request, requested, seed, candidate);
      candidate += 1;
      const key = spec.dedupKey(instance);
      if (!seen.has(key)) {
        seen.add(key);
        const solution = spec.solve(instance);
        const bucket = spec.bucketOf(request.level, solution.optimalLength);
        drawn.push({ index, instance, solution, bucket, seed, candidate: candidate - 1 });
        break;
      }
      duplicates += 1;
      if (duplicates >= MAX_DUPLICATES_IN_A_ROW) throw exhausted(request, drawn.length, requested);
    }
    onDrawn(index + 1);
  }
  return drawn;
}

function generateOne(spec: EnvSpec, request: GroupRequest, bucket: Bucket | null, seed: number, candidate: number): Instance {
  try {
    return spec.generate(request.level, seed, { ...request.generate, bucket });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DataError(
      'generate_failed',
      `${where(request)} candidate ${candidate} (seed ${seed}, bucket ${bucket ?? 'any'}): the generator failed: ${reason}`,
      {
        cause: error,
        hint:
          error instanceof MgsdError && error.hint
            ? error.hint
            : `Check tasks.${request.task} in the config (levels, holeProbability, minPathLength, stratify).`,
        context: { task: request.task, split: request.split, level: request.level, seed },
      },
    );
  }
}

function exhausted(request: GroupRequest, found: number, bucket: Bucket | null): DataError {
  const inBucket = bucket === null ? '' : ` in bucket ${bucket}`;
  return new DataError(
    'dedup_exhausted',
    `${where(request)}: found only ${found} of ${request.count} distinct instances; the next one${inBucket} ` +
      `was a duplicate ${MAX_DUPLICATES_IN_A_ROW} times in a row (this level has too few distinct puzzles ` +
      'left after deduplication against the other splits and the published test sets)',
    {
      hint:
        `Lower tasks.${request.task}.perLevel.${request.split}` +
        (request.stratify ? `, or set tasks.${request.task}.stratify=false` : '') +
        ', or drop this level.',
      context: { task: request.task, split: request.split, level: request.level },
    },
  );
}

function where(request: GroupRequest): string {
  return `dataset build: ${request.task} level ${request.level} split ${request.split}`;
}

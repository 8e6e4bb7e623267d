/**
 * The statistics of `mgsd compare`: mean, sample standard deviation and a Student-t 95 % interval
 * over seeds, and two paired tests of a row against its reference on the same test puzzles:
 *
 * - McNemar's exact test on the discordant pairs (row right / reference wrong = b, the converse = c),
 *   pooled over seeds: under the null each discordant pair is a fair coin, so
 *   p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½).
 * - A paired bootstrap over puzzles within each seed (the seeds are kept): the difference in mean
 *   success is recomputed on `resamples` resamples; p is the share of resampled differences at
 *   least as far from the observed one as the observed one is from 0 (the centred, two-sided
 *   bootstrap p, with the +1 correction). Seeded, so the same inputs give the same p.
 */
import { deriveSeed, Rng } from '../envs/index.js';

/** Arithmetic mean (NaN for no values). */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function sampleSd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, value) => sum + (value - m) ** 2, 0) / (values.length - 1));
}

// Two-sided 97.5 % quantiles of Student's t for 1–30 degrees of freedom.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The 97.5 % quantile of Student's t with `df` degrees of freedom (normal beyond 30). */
export function tQuantile975(df: number): number {
  return df >= 1 && df <= 30 ? T975[df - 1]! : 1.96;
}

/** Mean ± t·sd/√n over seeds; null with fewer than two values (no spread to estimate). */
export function tInterval95(values: readonly number[]): [number, number] | null {
  if (values.length < 2) return null;
  const half = (tQuantile975(values.length - 1) * sampleSd(values)) / Math.sqrt(values.length);
  const m = mean(values);
  return [m - half, m + half];
}

/** The outcome of McNemar's exact test. */
export interface McNemar {
  /** Row succeeded, reference failed. */
  b: number;
  /** Row failed, reference succeeded. */
  c: number;
  p: number;
}

/** McNemar's exact test over paired outcomes (`row[i]` and `reference[i]` are the same puzzle). */
export function mcnemarExact(pairs: ReadonlyArray<readonly [boolean, boolean]>): McNemar {
  let b = 0;
  let c = 0;
  for (const [row, reference] of pairs) {
    if (row && !reference) b += 1;
    if (!row && reference) c += 1;
  }
  const n = b + c;
  if (n === 0) return { b, c, p: 1 };
  // P(X ≤ k) for X ~ Binomial(n, ½), summed in log space so large n does not overflow.
  let logTerm = -n * Math.LN2; // log C(n, 0) / 2^n
  let cdf = Math.exp(logTerm);
  for (let i = 1; i <= Math.min(b, c); i += 1) {
    logTerm += Math.log(n - i + 1) - Math.log(i);
    cdf += Math.exp(logTerm);
  }
  return { b, c, p: Math.min(1, 2 * cdf) };
}

/** Paired outcomes of one seed: success of the row and of the reference, puzzle by puzzle. */
export type SeedPairs = ReadonlyArray<readonly [boolean, boolean]>;

/** The paired bootstrap's observed difference (row − reference, pooled over seeds) and p-value. */
export function pairedBootstrap(seeds: readonly SeedPairs[], resamples: number, label: string): { difference: number; p: number } {
  const observed = pooledDifference(seeds.map((pairs) => pairs.map(([row, reference]) => Number(row) - Number(reference))));
  const rng = new Rng(deriveSeed('compare-bootstrap', label));
  const diffs = seeds.map((pairs) => pairs.map(([row, reference]) => Number(row) - Number(reference)));
  let extreme = 0;
  for (let r = 0; r < resamples; r += 1) {
    const resampled = diffs.map((d) => d.map(() => d[Math.floor(rng.float() * d.length)]!));
    if (Math.abs(pooledDifference(resampled) - observed) >= Math.abs(observed) - 1e-12) extreme += 1;
  }
  return { difference: observed, p: (extreme + 1) / (resamples + 1) };
}

function pooledDifference(seeds: ReadonlyArray<readonly number[]>): number {
  return mean(seeds.flat());
}

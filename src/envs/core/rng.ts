/**
 * Seeded randomness for the environments: a small, fully specified PRNG and a stable seed hash.
 *
 * - `Rng` is xoshiro128** (Blackman & Vigna) on four uint32 words, seeded by expanding one 32-bit
 *   seed with splitmix32. Same seed → same stream on every machine and Node version.
 * - `deriveSeed` hashes its parts (FNV-1a over a length-prefixed encoding, then a murmur3 finaliser)
 *   so instance i's seed depends only on (generator version, task, split, level, i), never on how
 *   many draws earlier instances needed.
 * - Nothing in `envs/` may use `Math.random`.
 */

/**
 * Version of every generator's sampling procedure. Bump it whenever the sequence of draws (or what
 * is done with them) changes, so datasets built with older code are never silently mixed in.
 */
export const GENERATOR_VERSION = 1;

const TWO_POW_32 = 0x1_0000_0000;

/** One splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [(z ^ (z >>> 16)) >>> 0, next];
}

/** A seeded xoshiro128** generator. All methods consume the stream deterministically. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` must be an unsigned 32-bit integer (other numbers are reduced with `>>> 0`). */
  constructor(seed: number) {
    let state = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const [out, next] = splitmix32(state);
      words.push(out);
      state = next;
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    // NOTE: splitmix32 never yields four zero words from one seed, but guard the all-zero state anyway.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next uniform unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform integer in `[lo, hi]` (both inclusive), by rejection: no modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo || hi - lo >= TWO_POW_32) {
      throw new RangeError(`Rng.int: expected integers lo <= hi with hi - lo < 2^32, got lo=${lo} hi=${hi}`);
    }
    const range = hi - lo + 1;
    if (range === TWO_POW_32) return lo + this.nextU32();
    // Largest multiple of `range` that fits in 2^32: draws at or above it are redrawn.
    const limit = TWO_POW_32 - (TWO_POW_32 % range);
    let value = this.nextU32();
    while (value >= limit) value = this.nextU32();
    return lo + (value % range);
  }

  /** A uniform float in `[0, 1)` with 53 random bits. */
  float(): number {
    const high = this.nextU32() >>> 5; // 27 bits
    const low = this.nextU32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** One element of a non-empty array, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.choice: the array is empty');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.int(0, i);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }
}

function rotl(value: number, shift: number): number {
  return ((value << shift) | (value >>> (32 - shift))) >>> 0;
}

/**
 * A stable unsigned 32-bit seed from `parts`, e.g.
 * `deriveSeed(GENERATOR_VERSION, task, split, level, index)`. Numbers and strings hash differently
 * (`1` ≠ `'1'`), and parts are length-prefixed, so `('ab', 'c')` ≠ `('a', 'bc')`.
 */
export function deriveSeed(...parts: (string | number)[]): number {
  let hash = 0x811c9dc5;
  const feed = (code: number): void => {
    hash = Math.imul(hash ^ (code & 0xff), 0x01000193) >>> 0;
    hash = Math.imul(hash ^ (code >>> 8), 0x01000193) >>> 0;
  };
  for (const part of parts) {
    const encoded = typeof part === 'number' ? `n${numberText(part)}` : `s${part}`;
    feed(encoded.length & 0xffff);
    feed(encoded.length >>> 16);
    for (let i = 0; i < encoded.length; i += 1) feed(encoded.charCodeAt(i));
  }
  // murmur3 fmix32: spreads FNV's weak low bits over the whole word.
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b) >>> 0;
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35) >>> 0;
  return (hash ^ (hash >>> 16)) >>> 0;
}

function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`deriveSeed: parts must be finite numbers, got ${value}`);
  return String(value);
}

import { describe, expect, it } from 'vitest';

import { mcnemarExact, mean, pairedBootstrap, sampleSd, tInterval95 } from './stats.js';

const pairs = (b: number, c: number, same: number): Array<[boolean, boolean]> => [
  ...Array.from({ length: b }, (): [boolean, boolean] => [true, false]),
  ...Array.from({ length: c }, (): [boolean, boolean] => [false, true]),
  ...Array.from({ length: same }, (_, i): [boolean, boolean] => [i % 2 === 0, i % 2 === 0]),
];

describe('comparison statistics (hand-computed values)', () => {
  it('mean, sample sd and the t interval over seeds', () => {
    expect(mean([0.5, 0.7, 0.9])).toBeCloseTo(0.7, 12);
    expect(sampleSd([0.5, 0.7, 0.9])).toBeCloseTo(0.2, 12); // sqrt((0.04 + 0 + 0.04) / 2)
    // t(2, 0.975) = 4.303: 0.7 ± 4.303 · 0.2 / √3 = 0.7 ± 0.496868
    const [low, high] = tInterval95([0.5, 0.7, 0.9])!;
    expect(low).toBeCloseTo(0.203132, 5);
    expect(high).toBeCloseTo(1.196868, 5);
    expect(tInterval95([0.4])).toBeNull();
  });

  it("McNemar's exact test", () => {
    // b 8, c 2: p = 2 · (C(10,0) + C(10,1) + C(10,2)) / 2^10 = 2 · 56 / 1024
    const result = mcnemarExact(pairs(8, 2, 20));
    expect([result.b, result.c]).toEqual([8, 2]);
    expect(result.p).toBeCloseTo(112 / 1024, 12);
    // b 5, c 0: p = 2 / 32
    expect(mcnemarExact(pairs(5, 0, 3)).p).toBeCloseTo(1 / 16, 12);
    expect(mcnemarExact(pairs(3, 3, 4)).p).toBe(1);
    expect(mcnemarExact(pairs(0, 0, 6)).p).toBe(1);
    // Large counts stay finite: b 300, c 200 is far from fair.
    expect(mcnemarExact(pairs(300, 200, 0)).p).toBeLessThan(0.001);
  });

  it('the paired bootstrap: observed difference, deterministic p, and p = 1 without a difference', () => {
    const seeds = [pairs(8, 2, 20), pairs(6, 1, 23)];
    const first = pairedBootstrap(seeds, 2000, 'row');
    expect(first.difference).toBeCloseTo((8 - 2 + 6 - 1) / 60, 12);
    expect(pairedBootstrap(seeds, 2000, 'row')).toEqual(first);
    expect(first.p).toBeGreaterThan(0);
    expect(first.p).toBeLessThan(0.02);
    expect(pairedBootstrap([pairs(0, 0, 10)], 500, 'row').p).toBe(1);
  });
});

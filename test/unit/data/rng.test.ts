import { describe, expect, it } from 'vitest';
import { createRng, restoreRng } from '../../../protocol/rng.ts';

describe('xoshiro128** generator', () => {
  it('matches the reference C implementation from state {1, 2, 3, 4}', () => {
    // Outputs of https://prng.di.unimi.it/xoshiro128starstar.c compiled with gcc.
    const rng = restoreRng({ words: [1, 2, 3, 4], spareNormal: null });
    const first = Array.from({ length: 8 }, () => rng.nextU32());
    expect(first).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    for (let i = 0; i < 992; i++) rng.nextU32();
    expect(rng.nextU32()).toBe(136054147); // the 1001st output
  });

  it('is deterministic per seed, and different seeds give different streams', () => {
    const draw = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 4 }, () => rng.nextU32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(0)).not.toEqual(draw(2 ** 32)); // the high half of the seed counts
  });

  it('refuses seeds that are not non-negative safe integers', () => {
    for (const seed of [-1, 0.5, Number.NaN, 2 ** 53]) expect(() => createRng(seed)).toThrow(RangeError);
  });

  it('gives floats in [0, 1) with mean about 1/2', () => {
    const rng = createRng(1);
    let sum = 0;
    let outside = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005); // 5 sigma is 0.0046
  });

  it('gives unbiased integers below n, also for n that does not divide 2^32', () => {
    const rng = createRng(7);
    const n = 3;
    const counts = [0, 0, 0];
    const draws = 90_000;
    for (let i = 0; i < draws; i++) {
      const k = rng.nextBelow(n);
      counts[k] = (counts[k] as number) + 1;
    }
    for (const c of counts) expect(Math.abs(c - draws / n)).toBeLessThan(5 * Math.sqrt((draws * 2) / 9));
    expect(rng.nextBelow(1)).toBe(0);
    const big = rng.nextBelow(2 ** 40 + 3);
    expect(Number.isInteger(big) && big >= 0 && big < 2 ** 40 + 3).toBe(true);
    expect(() => rng.nextBelow(0)).toThrow(RangeError);
  });

  it('gives standard normals: mean 0, variance 1, finite', () => {
    const rng = createRng(123);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let nonFinite = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.nextNormal();
      if (!Number.isFinite(z)) nonFinite++;
      sum += z;
      sumSq += z * z;
    }
    expect(nonFinite).toBe(0);
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.015); // 5 sigma = 5 / sqrt(n) = 0.011
    expect(Math.abs(sumSq / n - mean * mean - 1)).toBeLessThan(0.02); // 5 sigma = 5 sqrt(2 / n) = 0.016
  });

  it('resumes exactly from a snapshot, including a cached normal', () => {
    const rng = createRng(9);
    rng.nextNormal(); // leaves the second normal cached
    const resumed = restoreRng(rng.snapshot());
    expect(Array.from({ length: 5 }, () => resumed.nextNormal())).toEqual(
      Array.from({ length: 5 }, () => rng.nextNormal()),
    );
    expect(resumed.nextU32()).toBe(rng.nextU32());
    expect(() => restoreRng({ words: [0, 0, 0, 0], spareNormal: null })).toThrow(RangeError);
  });
});

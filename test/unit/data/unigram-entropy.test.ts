import { describe, expect, it } from 'vitest';
import { countTokens, entropyFromCounts, unigramEntropy } from '../../../protocol/unigram-entropy.ts';

describe('unigramEntropy', () => {
  it('is ln 4 for a uniform distribution over 4 symbols', () => {
    expect(unigramEntropy([0, 1, 2, 3, 3, 2, 1, 0], 256)).toBeCloseTo(Math.log(4), 12);
  });

  it('is 0 for a single repeated symbol and for no tokens', () => {
    expect(unigramEntropy([7, 7, 7], 8)).toBe(0);
    expect(unigramEntropy([], 8)).toBe(0);
  });

  it('matches -sum p ln p for a skewed distribution', () => {
    // p = (1/2, 1/4, 1/4): H = 1.5 ln 2
    expect(unigramEntropy([0, 0, 1, 2], 3)).toBeCloseTo(1.5 * Math.LN2, 12);
  });

  it('accumulates counts across chunks to the same result', () => {
    const counts = countTokens([0, 0], 3);
    countTokens([1, 2], 3, counts);
    expect(entropyFromCounts(counts)).toBeCloseTo(unigramEntropy([0, 0, 1, 2], 3), 15);
  });

  it('refuses ids outside the vocabulary', () => {
    expect(() => unigramEntropy([0, 4], 4)).toThrow(RangeError);
    expect(() => unigramEntropy([0.5], 4)).toThrow(RangeError);
  });
});

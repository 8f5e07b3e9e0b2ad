// How the leaderboard writes credits: each column of credits shares one number of decimals,
// enough for its smallest credit, so "0.19" never sits beside "0.195" (issue 17).
import { describe, expect, it } from 'vitest';
import { creditDecimals, formatCredits, formatCreditsFixed } from '../../../web/src/leaderboard/format.ts';

/** A column as the board prints it. */
const column = (credits: number[]) => {
  const decimals = creditDecimals(credits);
  return credits.map((tflop) => formatCreditsFixed(tflop, decimals));
};
const decimalsOf = (text: string) => text.split('.')[1]?.length ?? 0;

describe('a column of credits', () => {
  it('prints 0.19 beside 0.195 with the same decimals', () => {
    expect(column([0.19, 0.195])).toEqual(['0.190', '0.195']);
  });

  it('keeps the smallest credit readable to 3 significant digits, the largest grouped', () => {
    expect(column([12.3, 0.0512, 2.03e-4])).toEqual(['12.300000', '0.051200', '0.000203']);
    expect(column([45_600, 1.5])).toEqual(['45,600.00', '1.50']);
  });

  it('shows no decimals when every credit is 100 or more', () => {
    expect(column([45_600, 123])).toEqual(['45,600', '123']);
  });

  it('gives every cell the same decimals, whatever the mix', () => {
    const credits = [3.2e-4, 0.0049, 0.19, 0.195, 1, 7.25, 88.8, 1234.5, 0];
    const texts = column(credits);
    expect(new Set(texts.map(decimalsOf))).toEqual(new Set([6]));
  });

  it('takes its scale from nonzero credits, and prints zero with the column', () => {
    expect(column([0, 0.5, 0])).toEqual(['0.000', '0.500', '0.000']);
    expect(column([0, 0])).toEqual(['0', '0']);
    expect(creditDecimals([])).toBe(0);
  });

  it('counts decimals right at powers of ten', () => {
    expect(creditDecimals([0.001])).toBe(5);
    expect(creditDecimals([0.1])).toBe(3);
    expect(creditDecimals([1])).toBe(2);
    expect(creditDecimals([100])).toBe(0);
  });

  it('stops at 6 decimals, however small the smallest credit', () => {
    expect(creditDecimals([1e-9, 1])).toBe(6);
    expect(column([4e-7, 2])).toEqual(['0.000000', '2.000000']);
  });
});

describe('formatCredits, a credit on its own', () => {
  it('keeps 3 significant digits, trailing zeros included', () => {
    expect(formatCredits(0.19)).toBe('0.190');
    expect(formatCredits(0.195)).toBe('0.195');
    expect(formatCredits(12)).toBe('12.0');
    expect(formatCredits(45_600)).toBe('45,600');
    expect(formatCredits(2.03e-4)).toBe('2.03e-4');
    expect(formatCredits(0)).toBe('0');
  });
});

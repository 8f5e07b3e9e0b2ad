// The x-axes of the step and round charts count whole things, so their ticks are whole
// numbers only: uPlot's own choice ticked a chart of a few rounds at 0.2, 0.4, … (issue 17).
import { describe, expect, it } from 'vitest';
import { roundsRange, WHOLE_NUMBER_INCRS, wholeNumberSplits } from '../../../web/src/volunteer/charts.ts';

describe('WHOLE_NUMBER_INCRS', () => {
  it('offers only whole spacings, 1, 2, 5, 10, … in rising order', () => {
    expect(WHOLE_NUMBER_INCRS.slice(0, 6)).toEqual([1, 2, 5, 10, 20, 50]);
    for (const incr of WHOLE_NUMBER_INCRS) expect(Number.isInteger(incr)).toBe(true);
    expect([...WHOLE_NUMBER_INCRS].sort((a, b) => a - b)).toEqual(WHOLE_NUMBER_INCRS);
    expect(WHOLE_NUMBER_INCRS.at(-1)).toBeGreaterThanOrEqual(1e9); // rounds and steps never run out
  });
});

describe('wholeNumberSplits', () => {
  it('ticks the whole numbers of a range, including the widened range of one round', () => {
    expect(wholeNumberSplits(0, 2, 1)).toEqual([0, 1, 2]); // one point at round 1
    expect(wholeNumberSplits(3, 7, 1)).toEqual([3, 4, 5, 6, 7]);
    expect(wholeNumberSplits(0, 1234, 200)).toEqual([0, 200, 400, 600, 800, 1000, 1200]);
  });

  it('ticks only whole numbers inside a fractional range', () => {
    expect(wholeNumberSplits(0.5, 3.7, 1)).toEqual([1, 2, 3]);
    expect(wholeNumberSplits(2.9999999999, 5, 2)).toEqual([4]);
  });

  it('never ticks a fraction, even when handed a fractional spacing', () => {
    const splits = wholeNumberSplits(0, 2, 0.2);
    expect(splits).toEqual([0, 1, 2]);
    for (const [min, max, incr] of [
      [0.1, 9.9, 0.5],
      [-3.3, 4.4, 0.25],
      [10, 11, 0.2],
    ] as const) {
      for (const tick of wholeNumberSplits(min, max, incr)) expect(Number.isInteger(tick)).toBe(true);
    }
  });

  it('labels zero as 0, not -0, around round 0', () => {
    expect(wholeNumberSplits(-1, 1, 1)).toEqual([-1, 0, 1]);
    const [zero] = wholeNumberSplits(-0.5, 0.5, 1);
    expect(Object.is(zero, 0)).toBe(true);
  });

  it('ticks nothing when uPlot found no spacing that fits, or the range is empty', () => {
    expect(wholeNumberSplits(0, 10, 0)).toEqual([]);
    expect(wholeNumberSplits(0, 10, Number.NaN)).toEqual([]);
    expect(wholeNumberSplits(5, 4, 1)).toEqual([]);
  });
});

describe('roundsRange', () => {
  it('keeps a range with extent, and widens one point without going below round 0', () => {
    expect(roundsRange(3, 9)).toEqual([3, 9]);
    expect(roundsRange(5, 5)).toEqual([4, 6]);
    expect(roundsRange(0, 0)).toEqual([0, 2]); // the empty or first-round chart read -1, 0, 1
  });
});

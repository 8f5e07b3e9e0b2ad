// bench:pipeline's loss spikes (test/bench/pipeline/loss-spikes.ts): a step counts when its loss
// passes 1.5x the lowest before it, however it got there, and the run's largest rise and worst
// ratio say how close a run without spikes came.
import { expect, it } from 'vitest';
import { lossSpikes } from '../../bench/pipeline/loss-spikes.ts';

it('counts the README run’s spike to 8.98 and none in a noisy fall', () => {
  const spiked = [5.59, 4.81, 4.29, 3.9, 3.6, 3.42, 3.5, 8.98, 4.1, 3.3];
  expect(lossSpikes(spiked)).toEqual({
    spikes: 1,
    maxRise: 8.98 - 3.5,
    worstRatio: 8.98 / 3.42,
    firstSpike: 8,
  });
  const noisy = [5.5, 4.9, 5.1, 4.2, 4.4, 3.8, 3.9];
  const calm = lossSpikes(noisy);
  expect(calm.spikes).toBe(0);
  expect(calm.firstSpike).toBeNull();
  expect(calm.maxRise).toBeCloseTo(0.2, 12);
  expect(calm.worstRatio).toBeCloseTo(4.4 / 4.2, 12);
});

it('measures every later step against the lowest before it, and refuses a loss that is none', () => {
  // The loss never comes back under 1.5x its best: every step after the jump counts.
  expect(lossSpikes([2, 1, 1.6, 1.7, 1.55])).toMatchObject({ spikes: 3, firstSpike: 3 });
  expect(lossSpikes([3, 2, 1])).toEqual({ spikes: 0, maxRise: 0, worstRatio: 2 / 3, firstSpike: null });
  expect(lossSpikes([4])).toEqual({ spikes: 0, maxRise: 0, worstRatio: 0, firstSpike: null });
  expect(() => lossSpikes([4, Number.NaN])).toThrow(RangeError);
});

// The leaderboard's sampler: temperature 0 is the argmax, draws follow softmax(logits / t), and
// a temperature or logits it cannot use are refused with a message that says why.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { argmax, MAX_TEMPERATURE, sampleToken, softmax } from '../../../web/src/leaderboard/sampling.ts';

const LOGITS = Float32Array.from([0.1, 2.5, -1, 2.4, 0]);

/** How often each token comes out of `draws` samples. */
function frequencies(logits: Float32Array, temperature: number, draws: number, seed = 7): number[] {
  const rng = createRng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) {
    const token = sampleToken(logits, temperature, rng);
    counts[token] = (counts[token] as number) + 1;
  }
  return counts.map((c) => c / draws);
}

describe('sampleToken', () => {
  it('takes the likeliest token at temperature 0, without drawing', () => {
    const rng = createRng(1);
    const before = rng.snapshot();
    for (let i = 0; i < 5; i++) expect(sampleToken(LOGITS, 0, rng)).toBe(1);
    expect(rng.snapshot()).toEqual(before);
  });

  it('tends to the argmax as the temperature goes to 0', () => {
    expect(frequencies(LOGITS, 0.5, 2_000)[1]).toBeLessThan(0.7); // 2.5 and 2.4 are close
    expect(frequencies(LOGITS, 0.005, 2_000)[1]).toBe(1);
  });

  it('draws each token with its softmax probability', () => {
    const probabilities = Float32Array.from([0.5, 0.3, 0.15, 0.05]);
    const logits = probabilities.map(Math.log);
    const draws = 40_000;
    const seen = frequencies(logits, 1, draws);
    for (const [i, p] of probabilities.entries()) {
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs((seen[i] as number) - p), `token ${i}`).toBeLessThan(5 * sd);
    }
    // Temperature 2 flattens: p^(1/2), renormalized.
    const flat = probabilities.map(Math.sqrt);
    const total = flat.reduce((a, b) => a + b, 0);
    const hot = frequencies(logits, 2, draws);
    for (const [i, q] of flat.entries()) {
      const p = q / total;
      expect(Math.abs((hot[i] as number) - p), `token ${i} at t=2`).toBeLessThan(
        5 * Math.sqrt((p * (1 - p)) / draws),
      );
    }
  });

  it('gives the same tokens for the same seed', () => {
    const draw = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 32 }, () => sampleToken(LOGITS, 1, rng));
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });

  it('refuses a temperature it cannot use, naming it', () => {
    const rng = createRng(1);
    for (const bad of [-0.1, Number.NaN, Number.POSITIVE_INFINITY, MAX_TEMPERATURE + 0.01]) {
      expect(() => sampleToken(LOGITS, bad, rng)).toThrow(
        new RangeError(`temperature must be a number from 0 to ${MAX_TEMPERATURE}, got ${bad}`),
      );
    }
  });

  it('refuses logits that are empty or not finite', () => {
    const rng = createRng(1);
    expect(() => sampleToken(new Float32Array(0), 1, rng)).toThrow(/no logits/);
    expect(() => sampleToken(Float32Array.from([0, Number.NaN]), 1, rng)).toThrow(
      /logit for token 1 is NaN: its weights are broken/,
    );
  });
});

describe('softmax', () => {
  it('sums to 1 and does not overflow at a cold temperature', () => {
    const p = softmax(Float32Array.from([1000, 999, -1000]), 0.01);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[0]).toBeGreaterThan(0.99);
    expect(p.every(Number.isFinite)).toBe(true);
  });

  it('breaks ties to the first token', () => {
    expect(argmax([1, 3, 3, 0])).toBe(1);
  });
});

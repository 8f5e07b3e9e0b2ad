// Aggregation sums the counted contributions in peer-id order, whatever order they arrive in,
// weighted by the tokens the relay assigned.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregate, type Contribution } from '../../../protocol/aggregate.ts';
import { createRng } from '../../../protocol/rng.ts';

function randomContribution(
  peer: string,
  n: number,
  density: number,
  seed: number,
  tokens: number,
): Contribution {
  const rng = createRng(seed);
  const indices: number[] = [];
  for (let i = 0; i < n; i++) if (rng.nextFloat() < density) indices.push(i);
  const values = Float32Array.from(indices, () => rng.nextNormal() * 10 ** (rng.nextBelow(6) - 3));
  return { peer, tokens, indices: Uint32Array.from(indices), values };
}

describe('aggregate', () => {
  it('gives bit-identical sums in every arrival order', () => {
    const n = 2000;
    const contributions = Array.from({ length: 6 }, (_, p) =>
      randomContribution(`peer-${p}`, n, 0.3, 100 + p, 1000 + 37 * p),
    );
    const expected = aggregate(n, contributions);
    fc.assert(
      fc.property(fc.shuffledSubarray(contributions, { minLength: 6, maxLength: 6 }), (order) => {
        expect(aggregate(n, order)).toEqual(expected);
      }),
      { numRuns: 50 },
    );
    // Summing in arrival order would not be: the fixed order is what makes the peers agree.
    const naive = (order: Contribution[]) => {
      const sum = new Float32Array(n);
      for (const c of order)
        c.indices.forEach((i, j) => {
          sum[i] = Math.fround(
            (sum[i] as number) + Math.fround(Math.fround(c.tokens / 10_000) * (c.values[j] as number)),
          );
        });
      return sum;
    };
    expect(naive(contributions)).not.toEqual(naive([...contributions].reverse()));
  });

  it('is the token-weighted mean of the contributions', () => {
    const n = 500;
    const contributions = [
      randomContribution('a', n, 1, 1, 3000),
      randomContribution('b', n, 0.5, 2, 1000),
      randomContribution('c', n, 0.2, 3, 6000),
    ];
    const sum = aggregate(n, contributions);
    const reference = new Float64Array(n);
    for (const c of contributions)
      c.indices.forEach((i, j) => {
        reference[i] = (reference[i] as number) + (c.tokens / 10_000) * (c.values[j] as number);
      });
    // fp32 sums of up to three terms: a few ulps of the largest term.
    const largest = Math.max(...contributions.flatMap((c) => Array.from(c.values, Math.abs)));
    for (let i = 0; i < n; i++)
      expect(Math.abs((sum[i] as number) - (reference[i] as number))).toBeLessThan(1e-6 * largest);
  });

  it('refuses an index outside the model', () => {
    expect(() =>
      aggregate(4, [{ peer: 'x', tokens: 1, indices: Uint32Array.of(4), values: Float32Array.of(1) }]),
    ).toThrow(RangeError);
  });

  it('is zero when nothing counts', () => {
    expect(aggregate(3, [])).toEqual(new Float32Array(3));
  });
});

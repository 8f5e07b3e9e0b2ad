// The cut DP (binary search on the crossing of the two terms) against every split, for costs
// that depend on a stage's position and length and grow with the length, forbidden past a cap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestCuts } from '../../../../relay/pipeline/split.ts';
import { allCuts } from './plan-fixtures.ts';

describe('bestCuts', () => {
  it('finds the least bottleneck over all splits', () => {
    const costs = fc
      .record({ L: fc.integer({ min: 1, max: 9 }), S: fc.integer({ min: 1, max: 9 }) })
      .filter(({ L, S }) => S <= L)
      .chain(({ L, S }) =>
        fc.record({
          L: fc.constant(L),
          S: fc.constant(S),
          // Per stage: a base, a cost per layer, and the most layers it may take.
          stages: fc.array(
            fc.record({
              base: fc.integer({ min: 0, max: 5 }),
              slope: fc.integer({ min: 0, max: 9 }),
              cap: fc.integer({ min: 1, max: L }),
            }),
            { minLength: S, maxLength: S },
          ),
        }),
      );
    fc.assert(
      fc.property(costs, ({ L, S, stages }) => {
        const cut = (s: number, a: number, b: number) => {
          const st = stages[s] as { base: number; slope: number; cap: number };
          return b - a > st.cap ? Number.POSITIVE_INFINITY : st.base + st.slope * (b - a);
        };
        const worst = (cuts: readonly number[]) =>
          Math.max(...Array.from({ length: S }, (_, s) => cut(s, cuts[s] as number, cuts[s + 1] as number)));
        const best = Math.min(...[...allCuts(L, S)].map(worst));
        const found = bestCuts(L, S, cut);
        if (!Number.isFinite(best)) {
          expect(found).toBeNull();
          return;
        }
        expect(found).not.toBeNull();
        expect(worst(found as number[])).toBe(best);
      }),
      { numRuns: 500, seed: 13 },
    );
  });
});

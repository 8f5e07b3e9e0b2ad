// The Hungarian method against every permutation on small random matrices.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minCostAssignment } from '../../../../relay/pipeline/assignment-problem.ts';

function* permutations(n: number): Generator<number[]> {
  if (n === 0) return yield [];
  for (const rest of permutations(n - 1))
    for (let k = 0; k <= rest.length; k++) yield [...rest.slice(0, k), n - 1, ...rest.slice(k)];
}

describe('minCostAssignment', () => {
  it('finds a least-cost permutation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((n) =>
          fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: n, maxLength: n }), {
            minLength: n,
            maxLength: n,
          }),
        ),
        (cost) => {
          const total = (p: readonly number[]) => p.reduce((sum, c, r) => sum + (cost[r]?.[c] as number), 0);
          const chosen = minCostAssignment(cost);
          expect([...chosen].sort()).toEqual(cost.map((_, i) => i));
          const best = Math.min(...[...permutations(cost.length)].map(total));
          expect(total(chosen)).toBe(best);
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });
});

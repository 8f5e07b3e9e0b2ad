// The exhaustive stage search, for few volunteers: every split, and for each every assignment
// of the volunteers that fit some stage to stages they fit, depth first, pruning branches that
// can no longer fill every stage. At most C(L−1, S−1)·S^n leaves; stage-search.ts uses it
// under a budget, and it is what makes small plans provably optimal.

import { speedOrder } from './seating.ts';
import { coverable, forEachSplit, splitTables } from './split.ts';
import type { StageCost } from './stage-cost.ts';
import { type SearchVolunteers, type StageSolution, solution } from './stage-solution.ts';

export function exactSearch(cost: StageCost, v: SearchVolunteers, S: number): StageSolution | null {
  const n = v.flops.length;
  const order = speedOrder(v);
  const memoryDescending = Float64Array.from(v.memory).sort().reverse();
  let best: { cuts: number[]; stageOf: Int32Array; bottleneck: number } | null = null;
  const X = new Float64Array(S);
  const count = new Int32Array(S);
  const stageOf = new Int32Array(n);

  forEachSplit(cost.nLayer, S, (cuts) => {
    const t = splitTables(cost, cuts);
    if (!coverable(t.need, memoryDescending)) return;
    // Volunteers fitting no stage wait; the others take, in turn, each stage they fit.
    const seated = Array.from(order).filter((i) => t.need.some((need) => need <= (v.memory[i] as number)));
    stageOf.fill(-1);
    X.fill(0);
    count.fill(0);
    let empty = S;
    const visit = (k: number) => {
      if (empty > seated.length - k) return; // too few volunteers left to fill every stage
      if (k === seated.length) {
        let worst = 0;
        for (let s = 0; s < S; s++) worst = Math.max(worst, (t.W[s] as number) / (X[s] as number));
        if (!best || worst < best.bottleneck)
          best = { cuts: [...cuts], stageOf: Int32Array.from(stageOf), bottleneck: worst };
        return;
      }
      const i = seated[k] as number;
      const x = v.flops[i] as number;
      for (let s = 0; s < S; s++) {
        if ((t.need[s] as number) > (v.memory[i] as number)) continue;
        if (count[s] === 0) empty--;
        count[s] = (count[s] as number) + 1;
        X[s] = (X[s] as number) + x;
        stageOf[i] = s;
        visit(k + 1);
        stageOf[i] = -1;
        X[s] = (X[s] as number) - x;
        count[s] = (count[s] as number) - 1;
        if (count[s] === 0) empty++;
      }
    };
    visit(0);
  });
  const found = best as { cuts: number[]; stageOf: Int32Array } | null;
  return found && solution(cost, found.cuts, v, found.stageOf, true);
}

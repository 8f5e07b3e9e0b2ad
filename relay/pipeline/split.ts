// Layer splits as the stage search handles them: a split is a cut list (stage s holds layers
// [cuts[s], cuts[s + 1]), cuts[0] = 0, cuts[S] = L), priced by stage-cost.ts, chosen by a DP
// over cut positions or, when they are few, enumerated.
import type { StageCost } from './stage-cost.ts';

/** Per stage of a split: training FLOPs per token and the bytes a volunteer needs. */
export interface SplitTables {
  readonly W: Float64Array;
  readonly need: Float64Array;
}

export function splitTables(cost: StageCost, cuts: readonly number[]): SplitTables {
  const S = cuts.length - 1;
  const W = new Float64Array(S);
  const need = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    const a = cuts[s] as number;
    const b = cuts[s + 1] as number;
    W[s] = cost.flopsPerToken(a, b, s === S - 1);
    need[s] = cost.memoryBytes(s, S, a, b);
  }
  return { W, need };
}

/**
 * Whether some assignment fills every stage: memory thresholds are nested, so by Hall's theorem
 * it does iff the k-th largest need is at most the k-th largest memory for every k.
 */
export function coverable(need: Float64Array, memoryDescending: Float64Array): boolean {
  const sorted = Float64Array.from(need).sort().reverse();
  return sorted.every((x, k) => k < memoryDescending.length && x <= (memoryDescending[k] as number));
}

/**
 * Cuts minimizing the max over stages of cut(s, a, b), Infinity forbidding a stage; null when
 * every split is forbidden. cut must depend on a and b only through the length b − a and must
 * not decrease with it: true of every cost here, since all blocks have the same shapes.
 *
 * Dynamic programming over (stage, end layer): best[s][b] = min over a of
 * max(best[s − 1][a], cut(s, a, b)). The first term does not decrease with a (one layer fewer
 * before a never costs more), the second does not increase, so the minimum sits where they
 * cross, found by binary search: O(S·L·log L) calls of cut instead of O(S·L²).
 */
export function bestCuts(
  L: number,
  S: number,
  cut: (s: number, a: number, b: number) => number,
): number[] | null {
  const best = Array.from({ length: S }, () => new Float64Array(L + 1).fill(Number.POSITIVE_INFINITY));
  const from = Array.from({ length: S }, () => new Int32Array(L + 1));
  const row0 = best[0] as Float64Array;
  for (let b = 1; b <= L - (S - 1); b++) row0[b] = cut(0, 0, b);
  for (let s = 1; s < S; s++) {
    const prev = best[s - 1] as Float64Array;
    const row = best[s] as Float64Array;
    const arg = from[s] as Int32Array;
    for (let b = s + 1; b <= L - (S - 1 - s); b++) {
      // The first a in [s, b − 1] where the stages before weigh at least as much as this one.
      let lo = s;
      let hi = b - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((prev[mid] as number) >= cut(s, mid, b)) hi = mid;
        else lo = mid + 1;
      }
      for (const a of lo > s ? [lo - 1, lo] : [lo]) {
        const value = Math.max(prev[a] as number, cut(s, a, b));
        if (value < (row[b] as number)) {
          row[b] = value;
          arg[b] = a;
        }
      }
    }
  }
  if (!Number.isFinite((best[S - 1] as Float64Array)[L] as number)) return null;
  const cuts = new Array<number>(S + 1).fill(0);
  cuts[S] = L;
  for (let s = S - 1; s >= 1; s--) cuts[s] = (from[s] as Int32Array)[cuts[s + 1] as number] as number;
  return cuts;
}

/** The split needing the least memory on its most demanding stage. */
export function leanestCuts(cost: StageCost, S: number): number[] | null {
  return bestCuts(cost.nLayer, S, (s, a, b) => cost.memoryBytes(s, S, a, b));
}

/** Calls visit with every split of L layers into S non-empty stages (the array is reused). */
export function forEachSplit(L: number, S: number, visit: (cuts: readonly number[]) => void): void {
  const cuts = new Array<number>(S + 1).fill(0);
  cuts[S] = L;
  const extend = (s: number) => {
    if (s === S) return visit(cuts);
    for (let b = (cuts[s - 1] as number) + 1; b <= L - (S - s); b++) {
      cuts[s] = b;
      extend(s + 1);
    }
  };
  extend(1);
}

/** C(n, k) as a double; only compared with budgets, so rounding does not matter. */
export function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

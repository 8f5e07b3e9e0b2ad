// What the stage search works on and returns: the volunteers as flat arrays, and a candidate
// (a split and a seating) scored by its slowest stage.

import { splitTables } from './split.ts';
import type { StageCost } from './stage-cost.ts';

export interface SearchVolunteers {
  /** FLOP/s of each volunteer. */
  readonly flops: Float64Array;
  /** Bytes each volunteer can give a stage (its memory less the reserve). */
  readonly memory: Float64Array;
}

export interface StageSolution {
  readonly S: number;
  /** Stage s holds layers [cuts[s], cuts[s + 1]); cuts[0] = 0 and cuts[S] = L. */
  readonly cuts: readonly number[];
  /** Each volunteer's stage; −1 when it fits no stage of this split. */
  readonly stageOf: Int32Array;
  /** Seconds per token of the slowest stage. */
  readonly bottleneck: number;
  /** Found by the exhaustive search: no split and seating is faster. */
  readonly exact: boolean;
}

/** Scores a candidate from scratch, so that no rounding drift from incremental updates remains. */
export function solution(
  cost: StageCost,
  cuts: readonly number[],
  v: SearchVolunteers,
  stageOf: Int32Array,
  exact: boolean,
): StageSolution {
  const { W } = splitTables(cost, cuts);
  const X = new Float64Array(W.length);
  stageOf.forEach((s, i) => {
    if (s >= 0) X[s] = (X[s] as number) + (v.flops[i] as number);
  });
  let bottleneck = 0;
  for (let s = 0; s < W.length; s++) bottleneck = Math.max(bottleneck, (W[s] as number) / (X[s] as number));
  return { S: cuts.length - 1, cuts: [...cuts], stageOf, bottleneck, exact };
}

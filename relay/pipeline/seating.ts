// Seating volunteers on a fixed split, the assignment half of the stage search: a greedy pass,
// then a local search on the bottleneck stage. Times are W_s / X_s, seconds per token (W_s the
// stage's training FLOPs per token, X_s its members' summed FLOP/s).
import type { SplitTables } from './split.ts';
import type { SearchVolunteers } from './stage-solution.ts';

export interface Seating {
  /** Each volunteer's stage, −1 for none. */
  readonly stageOf: Int32Array;
  /** Summed FLOP/s per stage. */
  readonly X: Float64Array;
  readonly count: Int32Array;
}

/** Candidate steps the local search may weigh per call: a few milliseconds. */
const LOCAL_SEARCH_BUDGET = 2_000_000;
/** Volunteers on the bottleneck × all volunteers above which swaps are not scanned. */
const SWAP_SCAN_LIMIT = 250_000;
/** Relative gain below which a step counts as none, so that rounding cannot loop. */
const EPS = 1e-12;

export function seatingOf(stageOf: Int32Array, v: SearchVolunteers, S: number): Seating {
  const g: Seating = { stageOf, X: new Float64Array(S), count: new Int32Array(S) };
  stageOf.forEach((s, i) => {
    if (s < 0) return;
    g.X[s] = (g.X[s] as number) + (v.flops[i] as number);
    g.count[s] = (g.count[s] as number) + 1;
  });
  return g;
}

/** Fastest first, ties by index, so that plans are deterministic. */
export function speedOrder(v: SearchVolunteers): Int32Array {
  const order = Int32Array.from({ length: v.flops.length }, (_, i) => i);
  return order.sort((i, j) => (v.flops[j] as number) - (v.flops[i] as number) || i - j);
}

/**
 * Seats volunteer i on a stage it fits: an empty one if any, the one needing the most memory
 * (with nested memory thresholds, this fills every stage whenever any assignment can, whatever
 * the order volunteers come in), else the slowest, the longest-processing-time rule for
 * uniform machines (extra volunteers become replicas of the slowest stage). Leaves it unseated
 * if it fits none.
 */
export function seat(i: number, t: SplitTables, v: SearchVolunteers, g: Seating): void {
  const mem = v.memory[i] as number;
  let chosen = -1;
  let key = Number.NEGATIVE_INFINITY;
  let chosenEmpty = false;
  for (let s = 0; s < t.W.length; s++) {
    if ((t.need[s] as number) > mem) continue;
    const empty = g.count[s] === 0;
    if (chosenEmpty && !empty) continue;
    const k = empty ? (t.need[s] as number) : (t.W[s] as number) / (g.X[s] as number);
    if ((empty && !chosenEmpty) || k > key) [chosen, key, chosenEmpty] = [s, k, empty];
  }
  if (chosen >= 0) move(g, v, i, chosen);
}

/** The greedy pass over every volunteer, fastest first; null if a stage stays empty. */
export function seatAll(t: SplitTables, v: SearchVolunteers, order: Int32Array): Seating | null {
  const g = seatingOf(new Int32Array(v.flops.length).fill(-1), v, t.W.length);
  for (const i of order) seat(i, t, v, g);
  return g.count.every((c) => c > 0) ? g : null;
}

function move(g: Seating, v: SearchVolunteers, i: number, to: number): void {
  const from = g.stageOf[i] as number;
  const x = v.flops[i] as number;
  if (from >= 0) {
    g.X[from] = (g.X[from] as number) - x;
    g.count[from] = (g.count[from] as number) - 1;
  }
  g.X[to] = (g.X[to] as number) + x;
  g.count[to] = (g.count[to] as number) + 1;
  g.stageOf[i] = to;
}

/** Volunteers to move, each to its stage, and the worst time among the stages they change. */
interface Step {
  readonly value: number;
  readonly moves: readonly (readonly [number, number])[];
}

/**
 * While it lowers the bottleneck stage b's time (keeping every stage it changes below it):
 * move a volunteer into b from a stage with replicas; else swap one of b's for a faster one;
 * else move a lone volunteer into b and refill its stage from a stage with replicas; else
 * exchange b's whole group with another stage's. Each step lowers the stage times sorted in
 * decreasing order, lexicographically, so it ends; a budget bounds it anyway.
 */
export function improve(t: SplitTables, v: SearchVolunteers, g: Seating): void {
  const { W } = t;
  let budget = LOCAL_SEARCH_BUDGET;
  while (budget > 0) {
    let b = 0;
    for (let s = 1; s < W.length; s++)
      if ((W[s] as number) / (g.X[s] as number) > (W[b] as number) / (g.X[b] as number)) b = s;
    const limit = ((W[b] as number) / (g.X[b] as number)) * (1 - EPS);
    const n = g.stageOf.length;
    budget -= n * (1 + (g.count[b] as number) + W.length);
    const step =
      bestMove(t, v, g, b, limit) ??
      bestSwap(t, v, g, b, limit) ??
      bestChain(t, v, g, b, limit) ??
      groupSwap(t, v, g, b, limit);
    if (!step) return;
    for (const [i, to] of step.moves) move(g, v, i, to);
  }
}

const fits = (t: SplitTables, v: SearchVolunteers, i: number, s: number) =>
  (t.need[s] as number) <= (v.memory[i] as number);

function bestMove(t: SplitTables, v: SearchVolunteers, g: Seating, b: number, limit: number): Step | null {
  const { W } = t;
  const { stageOf, X, count } = g;
  let best = -1;
  let bestValue = limit;
  for (let i = 0; i < stageOf.length; i++) {
    const s = stageOf[i] as number;
    if (s < 0 || s === b || (count[s] as number) < 2 || !fits(t, v, i, b)) continue;
    const x = v.flops[i] as number;
    const value = Math.max(
      (W[b] as number) / ((X[b] as number) + x),
      (W[s] as number) / ((X[s] as number) - x),
    );
    if (value < bestValue) [best, bestValue] = [i, value];
  }
  return best < 0 ? null : { value: bestValue, moves: [[best, b]] };
}

function bestSwap(t: SplitTables, v: SearchVolunteers, g: Seating, b: number, limit: number): Step | null {
  const { W } = t;
  const { stageOf, X, count } = g;
  const n = stageOf.length;
  // A swap tunes one stage by the difference of two speeds: what many replicas already allow.
  if ((count[b] as number) * n > SWAP_SCAN_LIMIT) return null;
  let best: [number, number] | null = null;
  let bestValue = limit;
  for (let u = 0; u < n; u++) {
    if (stageOf[u] !== b) continue;
    const xu = v.flops[u] as number;
    for (let i = 0; i < n; i++) {
      const s = stageOf[i] as number;
      const x = v.flops[i] as number;
      if (s < 0 || s === b || x <= xu || !fits(t, v, i, b) || !fits(t, v, u, s)) continue;
      const value = Math.max(
        (W[b] as number) / ((X[b] as number) + x - xu),
        (W[s] as number) / ((X[s] as number) - x + xu),
      );
      if (value < bestValue) [best, bestValue] = [[i, u], value];
    }
  }
  if (!best) return null;
  const [i, u] = best;
  return {
    value: bestValue,
    moves: [
      [i, b],
      [u, stageOf[i] as number],
    ],
  };
}

function bestChain(t: SplitTables, v: SearchVolunteers, g: Seating, b: number, limit: number): Step | null {
  const { W } = t;
  const { stageOf, X, count } = g;
  const n = stageOf.length;
  let best: [number, number] | null = null;
  let bestValue = limit;
  for (let i = 0; i < n; i++) {
    const s = stageOf[i] as number;
    if (s < 0 || s === b || count[s] !== 1 || !fits(t, v, i, b)) continue;
    const into = (W[b] as number) / ((X[b] as number) + (v.flops[i] as number));
    if (into >= bestValue) continue;
    for (let w = 0; w < n; w++) {
      const r = stageOf[w] as number;
      if (r < 0 || r === b || r === s || (count[r] as number) < 2 || !fits(t, v, w, s)) continue;
      const xw = v.flops[w] as number;
      const value = Math.max(into, (W[s] as number) / xw, (W[r] as number) / ((X[r] as number) - xw));
      if (value < bestValue) [best, bestValue] = [[i, w], value];
    }
  }
  if (!best) return null;
  const [i, w] = best;
  return {
    value: bestValue,
    moves: [
      [i, b],
      [w, stageOf[i] as number],
    ],
  };
}

function groupSwap(t: SplitTables, v: SearchVolunteers, g: Seating, b: number, limit: number): Step | null {
  const S = t.W.length;
  const least = new Float64Array(S).fill(Number.POSITIVE_INFINITY);
  g.stageOf.forEach((s, i) => {
    if (s >= 0) least[s] = Math.min(least[s] as number, v.memory[i] as number);
  });
  let other = -1;
  let bestValue = limit;
  for (let s = 0; s < S; s++) {
    if (
      s === b ||
      (least[s] as number) < (t.need[b] as number) ||
      (least[b] as number) < (t.need[s] as number)
    )
      continue;
    const value = Math.max((t.W[b] as number) / (g.X[s] as number), (t.W[s] as number) / (g.X[b] as number));
    if (value < bestValue) [other, bestValue] = [s, value];
  }
  if (other < 0) return null;
  const moves: Array<[number, number]> = [];
  g.stageOf.forEach((s, i) => {
    if (s === b) moves.push([i, other]);
    else if (s === other) moves.push([i, b]);
  });
  return { value: bestValue, moves };
}

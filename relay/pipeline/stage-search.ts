// The search behind planStages for one stage count S: choose the layer cuts and put every
// volunteer on one stage so that the slowest stage, max_s W_s / X_s (W_s its training FLOPs
// per token, X_s the summed FLOP/s of its volunteers), is as fast as possible, while every
// volunteer's memory holds its stage and no stage is empty. A volunteer that fits no stage of
// the chosen split waits; one that fits some stage is always seated, since another replica
// never slows a stage down.
//
// The problem is NP-hard: with two stages of equal cost it is PARTITION of the volunteers'
// speeds. So the search is exact when the volunteers are few (exact-search.ts, under a budget of
// C(L−1, S−1)·S^n leaves) and otherwise a heuristic that alternates two exact half-steps:
//
//   1. Split fixed, seat (seating.ts): a greedy pass, O(n·S), then a local search on the
//      bottleneck stage (moves, swaps, chains, group exchanges) under a work budget.
//   2. Seating fixed, cut (split.ts): a DP over cut positions, O(S·L·log L), minimizes the
//      bottleneck given each stage's summed speed and its smallest member's memory. It never
//      makes things worse, and it is what moves layer boundaries to where the speed is. When
//      volunteers sit idle it is also tried with one stage kept within an idle volunteer's
//      memory (ADMIT_LEVELS levels × ADMIT_STAGES stages), so that a split seating them is
//      reached.
//
// It starts from several splits, each balancing FLOPs under memory caps: the S-th largest
// memory on every stage; the caps pairing stages with the S largest memories so that they hold
// the most layers (an assignment problem, O(S³): with it the heuristic finds a split that fits
// whenever one exists); the split needing the least memory; and, when splits times volunteers
// are few, every split. Each start runs at most MAX_ROUNDS rounds, stopping when one gains
// nothing: O(MAX_ROUNDS·ADMIT_LEVELS·ADMIT_STAGES·S·L·log L) for the DPs plus the seating
// passes, about 0.1 s for S = 8, L = 48, n = 1000. test/unit/relay/pipeline/stage-plan.test.ts compares it with
// brute force.
import { minCostAssignment } from './assignment-problem.ts';
import { exactSearch } from './exact-search.ts';
import { improve, type Seating, seat, seatAll, seatingOf, speedOrder } from './seating.ts';
import { bestCuts, binomial, coverable, forEachSplit, leanestCuts, splitTables } from './split.ts';
import type { StageCost } from './stage-cost.ts';
import { type SearchVolunteers, type StageSolution, solution } from './stage-solution.ts';

/** Rounds of the cut/seat alternation per start; the tests settle within three. */
const MAX_ROUNDS = 8;
const QUICK_ROUNDS = 2;
/** The exhaustive search recurses once per volunteer; S = 1 would otherwise pass any budget. */
const EXACT_MAX_VOLUNTEERS = 24;
/** Splits × volunteers under which the heuristic starts from every split. */
const EVERY_SPLIT_LIMIT = 4096;
/** Memory levels at which idle volunteers are tried, per round. */
const ADMIT_LEVELS = 4;
/** Stage positions they are tried on at each level. */
const ADMIT_STAGES = 4;

/**
 * 'quick' is the heuristic from the memory-pairing start alone, for QUICK_ROUNDS rounds: never
 * better than 'full' (which runs those rounds too), about a tenth of its work. planStages uses
 * it to rank stage counts before searching the best few in full.
 */
export type SearchEffort = 'quick' | 'full';

export function searchStages(
  cost: StageCost,
  volunteers: SearchVolunteers,
  S: number,
  exactBudget: number,
  effort: SearchEffort = 'full',
): StageSolution | null {
  const n = volunteers.flops.length;
  if (n < S || S > cost.nLayer) return null;
  const leaves = binomial(cost.nLayer - 1, S - 1) * S ** n;
  return leaves <= exactBudget && n <= EXACT_MAX_VOLUNTEERS
    ? exactSearch(cost, volunteers, S)
    : heuristicSearch(cost, volunteers, S, effort);
}

function heuristicSearch(cost: StageCost, v: SearchVolunteers, S: number, effort: SearchEffort) {
  const L = cost.nLayer;
  const order = speedOrder(v);
  const memoryDescending = Float64Array.from(v.memory).sort().reverse();
  const roomy = memoryDescending[S - 1] as number;
  const caps = memoryCaps(cost, S, memoryDescending);
  const balancedUnder = (cap: (s: number) => number) =>
    bestCuts(L, S, (s, a, b) =>
      cost.memoryBytes(s, S, a, b) <= cap(s)
        ? cost.flopsPerToken(a, b, s === S - 1)
        : Number.POSITIVE_INFINITY,
    );
  const paired = caps && balancedUnder((s) => caps[s] as number);
  const starts = effort === 'quick' ? [paired] : [paired, balancedUnder(() => roomy), leanestCuts(cost, S)];
  // Few splits and few volunteers, where one volunteer's place matters most: start from each.
  if (effort === 'full' && binomial(L - 1, S - 1) * v.flops.length <= EVERY_SPLIT_LIMIT)
    forEachSplit(L, S, (c) => starts.push([...c]));
  const rounds = effort === 'quick' ? QUICK_ROUNDS : MAX_ROUNDS;

  let best: StageSolution | null = null;
  for (const start of starts) {
    if (!start || !coverable(splitTables(cost, start).need, memoryDescending)) continue;
    let current = fromSplit(cost, start, v, order);
    for (let r = 0; current && r < rounds; r++) {
      const next = round(cost, current, v, order);
      if (!next || !(next.bottleneck < current.bottleneck * (1 - 1e-9))) break;
      current = next;
    }
    best = faster(current, best);
  }
  return best;
}

function faster(a: StageSolution | null, b: StageSolution | null): StageSolution | null {
  return a && (!b || a.bottleneck < b.bottleneck) ? a : b;
}

function fromSplit(cost: StageCost, cuts: readonly number[], v: SearchVolunteers, order: Int32Array) {
  const t = splitTables(cost, cuts);
  const g = seatAll(t, v, order);
  if (!g) return null;
  improve(t, v, g);
  return solution(cost, cuts, v, g.stageOf, false);
}

/** Stage `stage` keeps within `level` bytes so that idle volunteers with that much can join it. */
interface Admit {
  readonly stage: number;
  readonly level: number;
}

/**
 * Keeps the seating and moves the cuts (DP). With `admit`, the idle volunteers with at least
 * `level` bytes join stage `admit.stage` first. Returns the split with the seating it was cut
 * for and the bottleneck that seating has on it; null when no split fits the seating.
 */
function recut(cost: StageCost, current: StageSolution, v: SearchVolunteers, admit?: Admit) {
  const { S } = current;
  const stageOf = Int32Array.from(current.stageOf);
  const cap = new Float64Array(S).fill(Number.POSITIVE_INFINITY);
  if (admit) {
    cap[admit.stage] = admit.level;
    stageOf.forEach((s, i) => {
      if (s < 0 && (v.memory[i] as number) >= admit.level) stageOf[i] = admit.stage;
    });
  }
  const g: Seating = seatingOf(stageOf, v, S);
  stageOf.forEach((s, i) => {
    if (s >= 0) cap[s] = Math.min(cap[s] as number, v.memory[i] as number);
  });
  const stageTime = (s: number, a: number, b: number) =>
    cost.memoryBytes(s, S, a, b) <= (cap[s] as number)
      ? cost.flopsPerToken(a, b, s === S - 1) / (g.X[s] as number)
      : Number.POSITIVE_INFINITY;
  const cuts = bestCuts(cost.nLayer, S, stageTime);
  if (!cuts) return null;
  let value = 0;
  for (let s = 0; s < S; s++) value = Math.max(value, stageTime(s, cuts[s] as number, cuts[s + 1] as number));
  return { cuts, g, value };
}

/** A recut's split and seating, with the volunteers it lets in seated and the local search run. */
function settle(
  cost: StageCost,
  cut: NonNullable<ReturnType<typeof recut>>,
  v: SearchVolunteers,
  order: Int32Array,
) {
  const t = splitTables(cost, cut.cuts);
  for (const i of order) if (cut.g.stageOf[i] === -1) seat(i, t, v, cut.g);
  improve(t, v, cut.g);
  return solution(cost, cut.cuts, v, cut.g.stageOf, false);
}

/**
 * One round from `current`: the plain recut, a fresh seating on its split, and the most
 * promising way of letting idle volunteers in (judged by the DP's bottleneck before seating,
 * so that only one of the ADMIT_LEVELS·ADMIT_STAGES candidates pays for a local search).
 */
function round(cost: StageCost, current: StageSolution, v: SearchVolunteers, order: Int32Array) {
  const plain = recut(cost, current, v);
  const moved = plain && settle(cost, plain, v, order);
  let next = faster(moved && fromSplit(cost, moved.cuts, v, order), moved);
  let admitted: ReturnType<typeof recut> = null;
  for (const admit of admits(cost, current, v)) {
    const cut = recut(cost, current, v, admit);
    if (cut && (!admitted || cut.value < admitted.value)) admitted = cut;
  }
  if (admitted) next = faster(settle(cost, admitted, v, order), next);
  return next;
}

/**
 * Ways to let idle volunteers in: at up to ADMIT_LEVELS of the idle volunteers' memory levels
 * spread over their range, the ADMIT_STAGES stage positions needing the least for one layer
 * (where a stage can shrink to fit them). The cut DP alone never reaches a split that seats
 * them, since it keeps every stage within its present members' memory.
 */
function admits(cost: StageCost, current: StageSolution, v: SearchVolunteers): Admit[] {
  const { S } = current;
  const idle: number[] = [];
  current.stageOf.forEach((s, i) => {
    if (s < 0) idle.push(v.memory[i] as number);
  });
  if (idle.length === 0) return [];
  idle.sort((a, b) => b - a);
  const k = Math.min(ADMIT_LEVELS, idle.length);
  const levels = new Set<number>();
  for (let q = 0; q < k; q++)
    levels.add(idle[Math.round((q * (idle.length - 1)) / Math.max(1, k - 1))] as number);
  const oneLayer = Array.from({ length: S }, (_, s) => cost.memoryBytes(s, S, 0, 1));
  const lightest = Array.from({ length: S }, (_, s) => s).sort(
    (a, b) => (oneLayer[a] as number) - (oneLayer[b] as number) || a - b,
  );
  return [...levels].flatMap((level) =>
    lightest
      .filter((stage) => (oneLayer[stage] as number) <= level)
      .slice(0, ADMIT_STAGES)
      .map((stage) => ({ stage, level })),
  );
}

/**
 * Memory caps, one of the S largest volunteers' per stage, under which the stages can hold all
 * L layers; null if no pairing can. A stage's need grows by the same bytes with each layer
 * wherever its layers start (every block has the same tensors), so the layers stage s can hold
 * with M bytes is one number, and the pairing holding the most layers is an assignment problem.
 */
function memoryCaps(cost: StageCost, S: number, memoryDescending: Float64Array): Float64Array | null {
  const L = cost.nLayer;
  const most = L - S + 1; // every other stage keeps a layer
  const top = memoryDescending.subarray(0, S);
  const layersWithin = (s: number, memory: number) => {
    let lo = 0;
    let hi = most;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cost.memoryBytes(s, S, 0, mid) <= memory) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const held = Array.from({ length: S }, (_, s) => Array.from(top, (m) => layersWithin(s, m)));
  // Maximize the layers held; a pairing leaving a stage with none costs more than any without.
  const forbidden = S * L + 1;
  const pairing = minCostAssignment(held.map((row) => row.map((l) => (l >= 1 ? -l : forbidden))));
  let total = 0;
  for (let s = 0; s < S; s++) {
    const l = (held[s] as number[])[pairing[s] as number] as number;
    if (l < 1) return null;
    total += l;
  }
  return total >= L ? Float64Array.from(pairing, (k) => top[k] as number) : null;
}

/** For a refusal: with the leanest split, what the k-th neediest stage lacks on the k-th largest volunteer. */
export function memoryShortfall(cost: StageCost, S: number, memory: Float64Array) {
  const cuts = leanestCuts(cost, S);
  if (!cuts) return null;
  const needs = Float64Array.from(splitTables(cost, cuts).need).sort().reverse();
  const sorted = Float64Array.from(memory).sort().reverse();
  let shortBytes = 0;
  let volunteersShort = 0;
  needs.forEach((need, k) => {
    const short = need - (sorted[k] ?? 0);
    if (short > 0) {
      shortBytes = Math.max(shortBytes, short);
      volunteersShort++;
    }
  });
  return { shortBytes: Math.ceil(shortBytes), volunteersShort };
}

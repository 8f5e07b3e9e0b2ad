// The relay's stage planner (docs/ARCHITECTURE.md, "Pipeline parallel"): from the model and the
// volunteers' measured memory and speed, where the layer boundaries go and which volunteers hold
// each stage. Pure logic: the swarm code turns a plan into `stage-assignment` messages.
//
// Objective: a pipeline runs at the pace of its slowest stage, so the planner minimizes the
// bottleneck max_s W_s·B·T / X_s, the seconds stage s needs per microbatch (W_s its training
// FLOPs per token, X_s the summed FLOP/s of its replicas, which split its microbatches in
// proportion to speed). Constraints: every volunteer's memory holds its stage, weights and
// optimizer state plus the activations of the S − s microbatches 1F1B keeps in flight on stage
// s (stage-cost.ts); every stage has a volunteer. How a given S is searched, and its
// complexity, is in stage-search.ts.
//
// With stages: 'auto' it ranks S = 1, 2, ... up to min(L, n) by a quick search, skipping an S
// whose lower bound (lowerBound, below) cannot win, then searches the best few in full. It keeps
// the fastest step: (M + S − 1) bottlenecks per 1F1B step when M is given, else one bottleneck;
// a larger S must gain AUTO_MIN_GAIN to win, since each stage boundary costs transfers the
// model does not price. Data parallelism is S = 1, chosen whenever the whole model fits the
// volunteers that matter.
import type { GptConfig } from '../../protocol/gpt-config.ts';
import type { LayerRange } from '../../protocol/stage-layout.ts';
import {
  checkModel,
  checkVolunteers,
  MAX_PLAN_VOLUNTEERS,
  type PlanOptions,
  type PlanRefusal,
  type RejectedVolunteer,
  type ResolvedOptions,
  resolveOptions,
  type Volunteer,
  type VolunteerInput,
} from './plan-input.ts';
import { type StageCost, stageCost } from './stage-cost.ts';
import { memoryShortfall, searchStages } from './stage-search.ts';
import type { SearchVolunteers, StageSolution } from './stage-solution.ts';

export interface PlannedMember extends Volunteer {
  /** Fraction of the stage's microbatches routed to this replica: its share of the stage's speed. */
  readonly share: number;
}

export interface PlannedStage {
  readonly stage: number;
  readonly layers: LayerRange;
  /** Fastest first. */
  readonly members: readonly PlannedMember[];
  /** Training FLOPs per token (protocol/model-flops.ts). */
  readonly flopsPerToken: number;
  /** Bytes each member needs to hold the stage. */
  readonly memoryBytes: number;
  /** Microbatches in flight under 1F1B. */
  readonly slots: number;
  readonly flopsPerSec: number;
  readonly secondsPerMicrobatch: number;
  /**
   * Seconds per microbatch the members' summed uplink needs for the boundary tensors the stage
   * sends (activations forward, gradients back), fp32 and uncompressed, so an upper bound; null
   * when it sends something and no member reported an uplink. Not part of the objective.
   */
  readonly sendSecondsPerMicrobatch: number | null;
}

export interface IdleVolunteer extends Volunteer {
  /** Bytes more it would need to hold the least demanding stage of this split. */
  readonly shortBytes: number;
}

export interface StagePlan {
  readonly ok: true;
  readonly model: GptConfig;
  readonly options: ResolvedOptions;
  readonly stages: readonly PlannedStage[];
  /** Valid volunteers that fit no stage of the split. */
  readonly idle: readonly IdleVolunteer[];
  readonly rejected: readonly RejectedVolunteer[];
  readonly bottleneckStage: number;
  /** The bottleneck stage's seconds per microbatch. */
  readonly secondsPerMicrobatch: number;
  /** What it would be with the work split perfectly over the seated volunteers: a lower bound. */
  readonly balancedSecondsPerMicrobatch: number;
  /** (M + S − 1) × the bottleneck: one 1F1B step with its flush; null when M was not given. */
  readonly secondsPerStep: number | null;
  /** Whether the search was exhaustive: no plan with this many stages has a faster bottleneck. */
  readonly exact: boolean;
}

export type PlanResult = StagePlan | PlanRefusal;

/** Relative gain a larger S must bring under 'auto'. */
export const AUTO_MIN_GAIN = 0.01;
/** Stage counts searched in full under 'auto', after a quick search ranks them all. */
const AUTO_FINALISTS = 3;

export function planStages(
  model: GptConfig,
  volunteers: readonly VolunteerInput[],
  options: PlanOptions,
): PlanResult {
  const badModel = checkModel(model);
  if (badModel) return badModel;
  const resolved = resolveOptions(model, options);
  if ('ok' in resolved) return resolved;
  if (!Array.isArray(volunteers))
    return { ok: false, code: 'ERR_PLAN_OPTIONS', message: 'volunteers must be a list', field: 'volunteers' };
  if (volunteers.length > MAX_PLAN_VOLUNTEERS)
    return {
      ok: false,
      code: 'ERR_PLAN_TOO_MANY_VOLUNTEERS',
      message: `${volunteers.length} volunteers exceed the planner's cap of ${MAX_PLAN_VOLUNTEERS}`,
    };
  const { usable, rejected } = checkVolunteers(model, resolved.T, volunteers);
  return planChecked(model, resolved, usable, rejected);
}

/** planStages after validation; stage-replan.ts re-plans through it. */
export function planChecked(
  model: GptConfig,
  options: ResolvedOptions,
  usable: readonly Volunteer[],
  rejected: readonly RejectedVolunteer[],
): PlanResult {
  const cost = stageCost(model, options);
  const search = searchInput(usable, options);
  const n = usable.length;
  if (options.stages !== 'auto' && options.stages > n) return tooFew(options.stages, n);
  const best =
    options.stages === 'auto'
      ? chooseStageCount(cost, search, options)
      : searchStages(cost, search, options.stages, options.exactBudget);
  if (!best) return refusal(cost, search, options, n);
  return assemblePlan(model, options, cost, usable, rejected, best.cuts, best.stageOf, best.exact);
}

/**
 * 'auto': a quick search of every stage count its lower bound does not rule out, then a full
 * search of the AUTO_FINALISTS best (the quick answers stand for the others); in increasing S,
 * a larger count must gain AUTO_MIN_GAIN on the step time.
 */
function chooseStageCount(
  cost: StageCost,
  search: SearchVolunteers,
  options: ResolvedOptions,
): StageSolution | null {
  const stepFactor = (S: number) => (options.microbatches === null ? 1 : options.microbatches + S - 1);
  const ranked: Array<{ S: number; solution: StageSolution; score: number }> = [];
  let bestQuick = Number.POSITIVE_INFINITY;
  for (let S = 1; S <= Math.min(cost.nLayer, search.flops.length); S++) {
    const bound = lowerBound(cost, search, S) * stepFactor(S);
    if (!(bound < bestQuick * (1 - AUTO_MIN_GAIN))) continue;
    const solution = searchStages(cost, search, S, options.exactBudget, 'quick');
    if (!solution) continue;
    const score = solution.bottleneck * stepFactor(S);
    ranked.push({ S, solution, score });
    bestQuick = Math.min(bestQuick, score);
  }
  const finalists = new Set([...ranked].sort((a, b) => a.score - b.score).slice(0, AUTO_FINALISTS));
  let best: StageSolution | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const entry of ranked) {
    let { solution, score } = entry;
    if (finalists.has(entry) && !solution.exact) {
      solution = searchStages(cost, search, entry.S, options.exactBudget) ?? solution;
      score = solution.bottleneck * stepFactor(entry.S);
    }
    if (!best || score < bestScore * (1 - AUTO_MIN_GAIN)) [best, bestScore] = [solution, score];
  }
  return best;
}

function searchInput(usable: readonly Volunteer[], options: ResolvedOptions): SearchVolunteers {
  return {
    flops: Float64Array.from(usable, (v) => v.flopsPerSec),
    memory: Float64Array.from(usable, (v) => Math.max(0, v.memoryBytes - options.reserveBytes)),
  };
}

/**
 * A bound no split into S stages can beat. Let m_i be the most layers volunteer i could hold on
 * any stage. The stages with more than k layers hold at least L − S·k layers between them, and
 * only volunteers with m_i > k can serve them, so the slowest stage takes at least that work
 * over those volunteers' speed; k = 0 is the whole model over everyone who fits somewhere.
 * It prunes stage counts that leave too many volunteers too small to matter.
 */
function lowerBound(cost: StageCost, v: SearchVolunteers, S: number): number {
  const L = cost.nLayer;
  const longest = L - S + 1;
  // least[l]: the fewest bytes any stage position needs for l layers; it grows with l.
  const least = new Float64Array(longest + 1);
  for (let l = 1; l <= longest; l++) {
    let m = Number.POSITIVE_INFINITY;
    for (let s = 0; s < S; s++) m = Math.min(m, cost.memoryBytes(s, S, 0, l));
    least[l] = m;
  }
  // holding[k]: summed speed of the volunteers with m_i >= k (a suffix sum over m_i).
  const holding = new Float64Array(longest + 2);
  v.memory.forEach((memory, i) => {
    let lo = 0;
    let hi = longest;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((least[mid] as number) <= memory) lo = mid;
      else hi = mid - 1;
    }
    holding[lo] = (holding[lo] as number) + (v.flops[i] as number);
  });
  for (let k = longest; k >= 0; k--) holding[k] = (holding[k] as number) + (holding[k + 1] as number);
  const above = (k: number) => holding[k + 1] as number;
  if (above(0) === 0) return Number.POSITIVE_INFINITY;
  let bound = cost.modelFlopsPerToken / above(0);
  const perLayer = cost.flopsPerToken(0, 1, false);
  for (let k = 1; S * k < L; k++) bound = Math.max(bound, (perLayer * (L - S * k)) / above(k));
  return bound;
}

function tooFew(stages: number, volunteers: number): PlanRefusal {
  return {
    ok: false,
    code: 'ERR_PLAN_TOO_FEW_VOLUNTEERS',
    message: `needs at least ${stages} volunteers, has ${volunteers}`,
    stages,
    volunteers,
  };
}

/**
 * Why nothing fits. With a fixed S: what the leanest split lacks. With 'auto': the fewest
 * stages volunteers as large as the largest could hold, if that needs more volunteers than
 * there are; otherwise the S asking the fewest extra bytes of a volunteer, then of the fewest.
 */
function refusal(cost: StageCost, v: SearchVolunteers, options: ResolvedOptions, n: number): PlanRefusal {
  const L = cost.nLayer;
  if (n === 0) return tooFew(options.stages === 'auto' ? 1 : options.stages, 0);
  const largest = Math.max(...v.memory);
  if (options.stages === 'auto') {
    for (let S = n + 1; S <= L; S++) {
      const ample = memoryShortfall(cost, S, new Float64Array(S).fill(largest));
      if (ample && ample.volunteersShort === 0) return tooFew(S, n);
    }
  }
  const counts =
    options.stages === 'auto' ? Array.from({ length: Math.min(L, n) }, (_, i) => i + 1) : [options.stages];
  let chosen = { S: counts[0] as number, shortBytes: 0, volunteersShort: 0 };
  let first = true;
  for (const S of counts) {
    const short = memoryShortfall(cost, S, v.memory);
    if (!short) continue;
    const better =
      first ||
      short.shortBytes < chosen.shortBytes ||
      (short.shortBytes === chosen.shortBytes && short.volunteersShort < chosen.volunteersShort);
    if (better) chosen = { S, ...short };
    first = false;
  }
  const { S, shortBytes, volunteersShort } = chosen;
  const where = volunteersShort <= 1 ? 'some volunteer' : `each of ${volunteersShort} volunteers`;
  return {
    ok: false,
    code: 'ERR_PLAN_MEMORY',
    message: `${S} stage${S === 1 ? '' : 's'}: needs ${shortBytes} more bytes on ${where}`,
    stages: S,
    shortBytes,
    volunteersShort,
  };
}

/** The plan for a split and an assignment (stageOf[i] for usable[i], −1 for idle). */
export function assemblePlan(
  model: GptConfig,
  options: ResolvedOptions,
  cost: StageCost,
  usable: readonly Volunteer[],
  rejected: readonly RejectedVolunteer[],
  cuts: readonly number[],
  stageOf: Int32Array,
  exact: boolean,
): StagePlan {
  const S = cuts.length - 1;
  const BT = cost.tokensPerMicrobatch;
  const groups = Array.from({ length: S }, () => [] as Volunteer[]);
  const idleVolunteers: Volunteer[] = [];
  usable.forEach((v, i) => {
    const s = stageOf[i] as number;
    if (s >= 0) (groups[s] as Volunteer[]).push(v);
    else idleVolunteers.push(v);
  });
  const stages = groups.map((group, s): PlannedStage => {
    const layers = { start: cuts[s] as number, end: cuts[s + 1] as number };
    const flopsPerSec = group.reduce((sum, v) => sum + v.flopsPerSec, 0);
    const uplink = group.reduce((sum, v) => sum + v.uplinkBytesPerSec, 0);
    const flopsPerToken = cost.flopsPerToken(layers.start, layers.end, s === S - 1);
    const sendBytes = cost.boundaryBytes * (Number(s < S - 1) + Number(s > 0));
    return {
      stage: s,
      layers,
      members: [...group]
        .sort((a, b) => b.flopsPerSec - a.flopsPerSec || (a.id < b.id ? -1 : 1))
        .map((v) => ({ ...v, share: v.flopsPerSec / flopsPerSec })),
      flopsPerToken,
      memoryBytes: cost.memoryBytes(s, S, layers.start, layers.end),
      slots: cost.slots(s, S),
      flopsPerSec,
      secondsPerMicrobatch: (flopsPerToken * BT) / flopsPerSec,
      sendSecondsPerMicrobatch: sendBytes === 0 ? 0 : uplink > 0 ? sendBytes / uplink : null,
    };
  });
  const least = Math.min(...stages.map((st) => st.memoryBytes));
  const idle = idleVolunteers.map((v) => ({
    ...v,
    shortBytes: Math.max(0, Math.ceil(least - (v.memoryBytes - options.reserveBytes))),
  }));
  let bottleneckStage = 0;
  for (const st of stages)
    if (st.secondsPerMicrobatch > (stages[bottleneckStage] as PlannedStage).secondsPerMicrobatch)
      bottleneckStage = st.stage;
  const secondsPerMicrobatch = (stages[bottleneckStage] as PlannedStage).secondsPerMicrobatch;
  const seatedSpeed = stages.reduce((sum, st) => sum + st.flopsPerSec, 0);
  return {
    ok: true,
    model,
    options,
    stages,
    idle,
    rejected,
    bottleneckStage,
    secondsPerMicrobatch,
    balancedSecondsPerMicrobatch: (cost.modelFlopsPerToken * BT) / seatedSpeed,
    secondsPerStep:
      options.microbatches === null ? null : (options.microbatches + S - 1) * secondsPerMicrobatch,
    exact,
  };
}

// Shared by the stage planner's tests: a brute-force planner to compare against, the
// invariants every plan must keep, and seeded volunteers.
import { expect } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import {
  type PlanOptions,
  type ResolvedOptions,
  resolveOptions,
  type VolunteerInput,
} from '../../../../relay/pipeline/plan-input.ts';
import { stageCost } from '../../../../relay/pipeline/stage-cost.ts';
import type { StagePlan } from '../../../../relay/pipeline/stage-plan.ts';

export function resolved(model: GptConfig, options: PlanOptions): ResolvedOptions {
  const r = resolveOptions(model, options);
  if ('ok' in r) throw new Error(r.message);
  return r;
}

/** Every composition of L layers into S non-empty contiguous stages, as cut lists. */
export function* allCuts(L: number, S: number): Generator<number[]> {
  const cuts = [0];
  function* extend(s: number): Generator<number[]> {
    if (s === S) {
      yield [...cuts, L];
      return;
    }
    for (let b = (cuts[s - 1] as number) + 1; b <= L - (S - s); b++) {
      cuts[s] = b;
      yield* extend(s + 1);
    }
    cuts.length = s;
  }
  yield* extend(1);
}

/**
 * The least seconds per microbatch of the slowest stage over every split into S stages and
 * every assignment in which each volunteer that fits some stage takes one it fits and no stage
 * is empty; null when there is none. Written apart from the planner, as plainly as possible.
 */
export function bruteForce(
  model: GptConfig,
  options: PlanOptions,
  volunteers: readonly VolunteerInput[],
  S: number,
) {
  const r = resolved(model, options);
  const cost = stageCost(model, r);
  const BT = r.B * r.T;
  let best: number | null = null;
  for (const cuts of allCuts(model.nLayer, S)) {
    const W = Array.from({ length: S }, (_, s) =>
      cost.flopsPerToken(cuts[s] as number, cuts[s + 1] as number, s === S - 1),
    );
    const need = Array.from({ length: S }, (_, s) =>
      cost.memoryBytes(s, S, cuts[s] as number, cuts[s + 1] as number),
    );
    const seats = volunteers
      .map((v) => need.flatMap((x, s) => (x <= v.memoryBytes - r.reserveBytes ? [s] : [])))
      .map((fits, i) => ({ fits, flops: volunteers[i]?.flopsPerSec as number }))
      .filter((o) => o.fits.length > 0);
    const pick = new Array<number>(seats.length).fill(0);
    for (;;) {
      const X = new Array<number>(S).fill(0);
      seats.forEach((o, i) => {
        const s = o.fits[pick[i] as number] as number;
        X[s] = (X[s] as number) + o.flops;
      });
      if (X.every((x) => x > 0)) {
        const worst = Math.max(...W.map((w, s) => (w * BT) / (X[s] as number)));
        if (best === null || worst < best) best = worst;
      }
      let k = 0;
      while (k < seats.length && (pick[k] as number) + 1 === seats[k]?.fits.length) pick[k++] = 0;
      if (k === seats.length) break;
      pick[k] = (pick[k] as number) + 1;
    }
  }
  return best;
}

/** What every plan must keep, whatever the input. */
export function expectPlanInvariants(plan: StagePlan, volunteers: readonly unknown[]): void {
  const { model, options } = plan;
  // The stages cover [0, L) in order, each non-empty, with at least one volunteer.
  let next = 0;
  for (const st of plan.stages) {
    expect(st.layers.start).toBe(next);
    expect(st.layers.end).toBeGreaterThan(st.layers.start);
    expect(st.members.length).toBeGreaterThan(0);
    next = st.layers.end;
    // Memory fits for every assignment.
    for (const m of st.members)
      expect(m.memoryBytes - options.reserveBytes).toBeGreaterThanOrEqual(st.memoryBytes);
    expect(st.members.reduce((sum, m) => sum + m.share, 0)).toBeCloseTo(1, 9);
  }
  expect(next).toBe(model.nLayer);
  // Idle volunteers really fit no stage of the split.
  for (const v of plan.idle)
    for (const st of plan.stages) expect(v.memoryBytes - options.reserveBytes).toBeLessThan(st.memoryBytes);
  // Every volunteer once: seated, idle or rejected.
  const ids = [...plan.stages.flatMap((st) => st.members.map((m) => m.id)), ...plan.idle.map((v) => v.id)];
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.length + plan.rejected.length).toBe(volunteers.length);
  const worst = Math.max(...plan.stages.map((st) => st.secondsPerMicrobatch));
  expect(plan.secondsPerMicrobatch).toBe(worst);
  expect(plan.balancedSecondsPerMicrobatch).toBeLessThanOrEqual(worst * (1 + 1e-12));
}

/** A small deterministic generator (mulberry32), so a failing case can be rerun. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

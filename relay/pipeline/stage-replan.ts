// What the relay does when a volunteer of a stage plan disappears, as a pure function from the
// old plan to a new one plus the list of changes to announce. In order of disruption:
//
// 1. The stage keeps a replica: its microbatches are re-routed. Shares stay proportional to
//    speed, so every replica stays equally loaded; the lost replica's microbatches in flight go
//    to the fastest survivor, which finishes them first. Nothing is downloaded.
// 2. It was the stage's last volunteer: one volunteer moves in from the stage with the most
//    slack (the lowest seconds per microbatch) among those with a spare replica that can hold
//    the stage; within it, the one leaving both stages fastest. The layer cuts stay, so only
//    that volunteer downloads weights, and only its new stage's (weight-fetch.ts). With its
//    last holder gone the stage's layers come from the relay's checkpoint; wte, if the stage
//    needs it, from the other stage holding it.
// 3. No volunteer can be spared: plan afresh with the same options (with 'auto' stages if the
//    fixed count no longer fits) and list every volunteer whose stage changed, with what it
//    must fetch and from whom.
//
// Moving one volunteer is not always what a full re-plan would choose; it is chosen because
// it keeps every other volunteer's weights and activations where they are.
import type { PlanRefusal, Volunteer } from './plan-input.ts';
import { stageCost } from './stage-cost.ts';
import { assemblePlan, planChecked, type StagePlan } from './stage-plan.ts';
import { positionOf, type StagePosition, type WeightFetch, weightFetches } from './weight-fetch.ts';

export type ReplanChange =
  | {
      readonly type: 'reroute';
      readonly stage: number;
      readonly lost: string;
      /** The replica taking over the lost one's microbatches in flight. */
      readonly to: string;
      /** Every surviving replica's share of the stage's microbatches from now on. */
      readonly shares: readonly { readonly id: string; readonly share: number }[];
    }
  | {
      readonly type: 'move';
      readonly volunteer: string;
      readonly donorStage: number;
      readonly stage: number;
      readonly fetch: readonly WeightFetch[];
    }
  | {
      readonly type: 'replan';
      readonly reason: string;
      readonly stagesBefore: number;
      readonly stagesAfter: number;
    }
  | {
      readonly type: 'reassign';
      readonly volunteer: string;
      /** Stage in the old plan, null if it was idle. */
      readonly from: number | null;
      /** Stage in the new plan, null if it now waits. */
      readonly to: number | null;
      readonly fetch: readonly WeightFetch[];
    };

export type ReplanResult =
  | { readonly ok: true; readonly plan: StagePlan; readonly changes: readonly ReplanChange[] }
  | { readonly ok: false; readonly code: 'ERR_REPLAN_UNKNOWN_VOLUNTEER'; readonly message: string }
  | {
      readonly ok: false;
      readonly code: 'ERR_REPLAN_NO_PLAN';
      readonly message: string;
      /** Why the volunteers left cannot run the model. */
      readonly refusal: PlanRefusal;
    };

/** Everyone the plan holds, seated or idle, as volunteers, with their stage (−1 for idle). */
function roster(plan: StagePlan): { volunteers: Volunteer[]; stageOf: number[] } {
  const volunteers: Volunteer[] = [];
  const stageOf: number[] = [];
  const add = (v: Volunteer, s: number) => {
    volunteers.push({
      id: v.id,
      memoryBytes: v.memoryBytes,
      flopsPerSec: v.flopsPerSec,
      uplinkBytesPerSec: v.uplinkBytesPerSec,
    });
    stageOf.push(s);
  };
  for (const st of plan.stages) for (const m of st.members) add(m, st.stage);
  for (const v of plan.idle) add(v, -1);
  return { volunteers, stageOf };
}

function rebuild(plan: StagePlan, volunteers: Volunteer[], stageOf: number[]): StagePlan {
  const cuts = [...plan.stages.map((st) => st.layers.start), plan.model.nLayer];
  const cost = stageCost(plan.model, plan.options);
  return assemblePlan(
    plan.model,
    plan.options,
    cost,
    volunteers,
    plan.rejected,
    cuts,
    Int32Array.from(stageOf),
    false,
  );
}

export function replanAfterLoss(plan: StagePlan, lost: string): ReplanResult {
  const all = roster(plan);
  const index = all.volunteers.findIndex((v) => v.id === lost);
  if (index < 0)
    return { ok: false, code: 'ERR_REPLAN_UNKNOWN_VOLUNTEER', message: `${lost} is not in this plan` };
  const lostStage = all.stageOf[index] as number;
  const volunteers = all.volunteers.filter((_, i) => i !== index);
  const stageOf = all.stageOf.filter((_, i) => i !== index);
  // An idle volunteer held nothing: the plan is the same without it.
  if (lostStage < 0) return { ok: true, plan: rebuild(plan, volunteers, stageOf), changes: [] };

  const stage = plan.stages[lostStage];
  const survivors = stage ? stage.members.filter((m) => m.id !== lost) : [];
  if (survivors.length > 0) {
    const next = rebuild(plan, volunteers, stageOf);
    const shares = (next.stages[lostStage]?.members ?? []).map((m) => ({ id: m.id, share: m.share }));
    const to = (survivors[0] as Volunteer).id; // members are fastest first
    return { ok: true, plan: next, changes: [{ type: 'reroute', stage: lostStage, lost, to, shares }] };
  }

  const donor = chooseDonor(plan, lostStage);
  if (donor) {
    const at = volunteers.findIndex((v) => v.id === donor.volunteer);
    stageOf[at] = lostStage;
    const next = rebuild(plan, volunteers, stageOf);
    const gone = new Set([lost]);
    const fetch = weightFetches(
      plan,
      positionOf(plan, donor.stage),
      positionOf(plan, lostStage),
      donor.volunteer,
      gone,
    );
    return {
      ok: true,
      plan: next,
      changes: [
        { type: 'move', volunteer: donor.volunteer, donorStage: donor.stage, stage: lostStage, fetch },
      ],
    };
  }
  return replanFully(plan, volunteers, all, lost);
}

/** The spare volunteer to move into the emptied stage, or null if no stage can spare one. */
function chooseDonor(plan: StagePlan, emptied: number): { stage: number; volunteer: string } | null {
  const target = plan.stages[emptied];
  if (!target) return null;
  const BT = plan.options.B * plan.options.T;
  const fits = (v: Volunteer) => v.memoryBytes - plan.options.reserveBytes >= target.memoryBytes;
  const donors = plan.stages
    .filter((st) => st.stage !== emptied && st.members.length >= 2 && st.members.some(fits))
    .sort((a, b) => a.secondsPerMicrobatch - b.secondsPerMicrobatch || a.stage - b.stage);
  const donor = donors[0];
  if (!donor) return null;
  let best: { volunteer: string; worst: number } | null = null;
  for (const m of donor.members) {
    if (!fits(m)) continue;
    const worst = Math.max(
      (target.flopsPerToken * BT) / m.flopsPerSec,
      (donor.flopsPerToken * BT) / (donor.flopsPerSec - m.flopsPerSec),
    );
    if (!best || worst < best.worst) best = { volunteer: m.id, worst };
  }
  return best && { stage: donor.stage, volunteer: best.volunteer };
}

function replanFully(
  plan: StagePlan,
  volunteers: Volunteer[],
  before: { volunteers: Volunteer[]; stageOf: number[] },
  lost: string,
): ReplanResult {
  let result = planChecked(plan.model, plan.options, volunteers, plan.rejected);
  if (!result.ok && plan.options.stages !== 'auto')
    result = planChecked(plan.model, { ...plan.options, stages: 'auto' }, volunteers, plan.rejected);
  if (!result.ok)
    return {
      ok: false,
      code: 'ERR_REPLAN_NO_PLAN',
      message: `after losing ${lost}: ${result.message}`,
      refusal: result,
    };
  const next = result;
  const oldStage = new Map(before.volunteers.map((v, i) => [v.id, before.stageOf[i] as number]));
  const newStage = new Map<string, number>();
  for (const st of next.stages) for (const m of st.members) newStage.set(m.id, st.stage);
  const S0 = plan.stages.length;
  const S1 = next.stages.length;
  const changes: ReplanChange[] = [
    {
      type: 'replan',
      reason: `${lost} was the last volunteer of stage ${oldStage.get(lost)} and no stage could spare one`,
      stagesBefore: S0,
      stagesAfter: S1,
    },
  ];
  const gone = new Set([lost]);
  const same = (a: StagePosition, b: StagePosition) =>
    a.layers.start === b.layers.start &&
    a.layers.end === b.layers.end &&
    a.isFirst === b.isFirst &&
    a.isLast === b.isLast;
  for (const v of volunteers) {
    const from = oldStage.get(v.id) ?? -1;
    const to = newStage.get(v.id) ?? -1;
    if (from < 0 && to < 0) continue;
    const held = from >= 0 ? positionOf(plan, from) : null;
    const wanted = to >= 0 ? positionOf(next, to) : null;
    // Same layers but another index still changes its slots (S − s), so it is announced too.
    if (held && wanted && from === to && S0 === S1 && same(held, wanted)) continue;
    changes.push({
      type: 'reassign',
      volunteer: v.id,
      from: from >= 0 ? from : null,
      to: to >= 0 ? to : null,
      fetch: wanted ? weightFetches(plan, held, wanted, v.id, gone) : [],
    });
  }
  return { ok: true, plan: next, changes };
}

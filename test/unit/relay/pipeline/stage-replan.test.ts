// Re-planning after a volunteer disappears: a lost replica's microbatches are re-routed, a
// stage's last volunteer is replaced from the stage with the most slack, and only when no stage
// can spare one is everything planned afresh; each step says who fetches which weights from whom.
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import type { Volunteer } from '../../../../relay/pipeline/plan-input.ts';
import { stageCost } from '../../../../relay/pipeline/stage-cost.ts';
import { assemblePlan, type StagePlan } from '../../../../relay/pipeline/stage-plan.ts';
import { type ReplanChange, replanAfterLoss } from '../../../../relay/pipeline/stage-replan.ts';
import { expectPlanInvariants, resolved } from './plan-fixtures.ts';

const MODEL: GptConfig = { vocabSize: 64, contextLength: 8, dModel: 16, nLayer: 6, nHead: 2 };
const OPTIONS = resolved(MODEL, { stages: 3, microbatch: { B: 1, T: 8 } });
const GIB = 2 ** 30;

const volunteer = (id: string, tflops: number, memoryBytes = GIB): Volunteer => ({
  id,
  flopsPerSec: tflops * 1e12,
  memoryBytes,
  uplinkBytesPerSec: 1e6,
});

/** A plan with the given cuts and stages, built as the planner builds its own. */
function planOf(cuts: number[], stages: Volunteer[][], idle: Volunteer[] = []): StagePlan {
  const all = [...stages.flat(), ...idle];
  const stageOf = Int32Array.from([
    ...stages.flatMap((group, s) => group.map(() => s)),
    ...idle.map(() => -1),
  ]);
  return assemblePlan(MODEL, OPTIONS, stageCost(MODEL, OPTIONS), all, [], cuts, stageOf, false);
}

// Stage 1 has a single volunteer; stages 0 and 2 have replicas, and stage 2 the most slack
// (46080 FLOPs per token over 7 TFLOP/s beside 39936 over 6).
const base = () =>
  planOf(
    [0, 2, 4, 6],
    [
      [volunteer('a', 4), volunteer('b', 2)],
      [volunteer('c', 5)],
      [volunteer('d', 3), volunteer('e', 3), volunteer('f', 1)],
    ],
    [volunteer('tiny', 1, 1024)],
  );

const members = (plan: StagePlan) => plan.stages.map((st) => st.members.map((m) => m.id));
const everyone = (plan: StagePlan) => [...plan.stages.flatMap((st) => st.members), ...plan.idle];

describe('replanAfterLoss', () => {
  it('re-routes a lost replica to the fastest survivor, shares by speed', () => {
    const plan = base();
    const result = replanAfterLoss(plan, 'f');
    if (!result.ok) throw new Error(result.message);
    expect(result.changes).toEqual([
      {
        type: 'reroute',
        stage: 2,
        lost: 'f',
        to: 'd',
        shares: [
          { id: 'd', share: 0.5 },
          { id: 'e', share: 0.5 },
        ],
      },
    ]);
    expect(members(result.plan)).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
    expect(result.plan.stages.map((st) => st.layers)).toEqual(plan.stages.map((st) => st.layers));
    expectPlanInvariants(result.plan, everyone(result.plan));
  });

  it("replaces a stage's last volunteer from the stage with the most slack", () => {
    const plan = base();
    expect(plan.stages[2]?.secondsPerMicrobatch).toBeLessThan(plan.stages[0]?.secondsPerMicrobatch as number);
    const result = replanAfterLoss(plan, 'c');
    if (!result.ok) throw new Error(result.message);
    // d and e tie (3 TFLOP/s); the first listed moves. No live peer holds layers 2-3 any more:
    // they come from the relay's checkpoint.
    expect(result.changes).toEqual([
      {
        type: 'move',
        volunteer: 'd',
        donorStage: 2,
        stage: 1,
        fetch: [{ part: 'layers', layers: { start: 2, end: 4 }, fromStage: 1, peers: [] }],
      },
    ]);
    expect(members(result.plan)).toEqual([['a', 'b'], ['d'], ['e', 'f']]);
    expectPlanInvariants(result.plan, everyone(result.plan));
  });

  it('fetches wte from the last stage when the first stage is emptied, and wpe from the checkpoint', () => {
    const plan = planOf(
      [0, 2, 4, 6],
      [[volunteer('a', 4)], [volunteer('c', 5)], [volunteer('d', 3), volunteer('e', 2)]],
    );
    const result = replanAfterLoss(plan, 'a');
    if (!result.ok) throw new Error(result.message);
    // e moves (d leaving would slow stage 2 more); it held the last stage, wte's copy included.
    expect(result.changes).toEqual([
      {
        type: 'move',
        volunteer: 'e',
        donorStage: 2,
        stage: 0,
        fetch: [
          { part: 'layers', layers: { start: 0, end: 2 }, fromStage: 0, peers: [] },
          { part: 'wpe', peers: [] },
        ],
      },
    ]);
  });

  it('plans afresh when no stage can spare a volunteer that holds the emptied stage', () => {
    // Stage 2's replicas are too small for stage 0, which keeps three microbatches in flight.
    const cost = stageCost(MODEL, OPTIONS);
    const small = cost.memoryBytes(2, 3, 4, 6) + 1;
    expect(small).toBeLessThan(cost.memoryBytes(0, 3, 0, 2));
    const plan = planOf(
      [0, 2, 4, 6],
      [[volunteer('a', 4)], [volunteer('c', 5)], [volunteer('d', 3, small), volunteer('e', 3, small)]],
    );
    const result = replanAfterLoss(plan, 'a');
    if (!result.ok) throw new Error(result.message);
    expect(result.changes[0]).toMatchObject({ type: 'replan', stagesBefore: 3 });
    expect(result.changes.slice(1).every((c) => c.type === 'reassign')).toBe(true);
    expectPlanInvariants(result.plan, everyone(result.plan));
    expectFetchesCover(plan, result.plan, result.changes, new Set(['a']));
  });

  it('cascades: re-route, move, move, re-plan on one stage, re-route, then refuse', () => {
    let plan = base();
    const kinds: string[] = [];
    const stageCounts: number[] = [];
    const gone = new Set<string>();
    for (const lost of ['b', 'c', 'a', 'f', 'd', 'e', 'tiny']) {
      const result = replanAfterLoss(plan, lost);
      gone.add(lost);
      if (!result.ok) {
        // Only the 1 KiB volunteer is left, and no split fits it.
        expect(result).toMatchObject({ code: 'ERR_REPLAN_NO_PLAN', refusal: { code: 'ERR_PLAN_MEMORY' } });
        expect(lost).toBe('e');
        kinds.push('refused');
        break;
      }
      expectPlanInvariants(result.plan, everyone(result.plan));
      expectFetchesCover(plan, result.plan, result.changes, gone);
      kinds.push(result.changes[0]?.type ?? 'none');
      stageCounts.push(result.plan.stages.length);
      plan = result.plan;
    }
    // a's stage empties after b left: e moves in. f was then stage 2's last, and no stage had a
    // spare: d and e are planned afresh, and since each holds the whole model the planner makes
    // them data-parallel replicas of one stage. Losing d re-routes to e; losing e leaves only
    // the 1 KiB volunteer.
    expect(kinds).toEqual(['reroute', 'move', 'move', 'replan', 'reroute', 'refused']);
    expect(stageCounts).toEqual([3, 3, 3, 1, 1]);
  });

  it('drops an idle volunteer without changes and refuses an unknown one', () => {
    const idle = replanAfterLoss(base(), 'tiny');
    expect(idle).toMatchObject({ ok: true, changes: [] });
    if (idle.ok) expect(idle.plan.idle).toEqual([]);
    expect(replanAfterLoss(base(), 'nobody')).toMatchObject({
      ok: false,
      code: 'ERR_REPLAN_UNKNOWN_VOLUNTEER',
    });
  });
});

/**
 * Every volunteer whose stage changed gets, from held layers plus fetched ones, exactly its new
 * stage's layers, and never fetches from a peer that is gone or from itself.
 */
function expectFetchesCover(
  before: StagePlan,
  after: StagePlan,
  changes: readonly ReplanChange[],
  gone: ReadonlySet<string>,
) {
  const oldStage = new Map(before.stages.flatMap((st) => st.members.map((m) => [m.id, st] as const)));
  for (const change of changes) {
    if (change.type !== 'move' && change.type !== 'reassign') continue;
    const to = change.type === 'move' ? change.stage : change.to;
    if (to === null) continue;
    const wanted = after.stages[to]?.layers as { start: number; end: number };
    const covered = new Set<number>();
    const held = oldStage.get(change.volunteer)?.layers;
    for (let l = wanted.start; l < wanted.end; l++)
      if (held && l >= held.start && l < held.end) covered.add(l);
    for (const f of change.fetch) {
      for (const peer of f.peers) {
        expect(gone.has(peer)).toBe(false);
        expect(peer).not.toBe(change.volunteer);
      }
      if (f.part !== 'layers') continue;
      for (let l = f.layers.start; l < f.layers.end; l++) {
        expect(covered.has(l)).toBe(false);
        covered.add(l);
      }
    }
    expect([...covered].sort((x, y) => x - y)).toEqual(
      Array.from({ length: wanted.end - wanted.start }, (_, i) => wanted.start + i),
    );
  }
}

// The stage planner against brute force on small models, its refusals, and a large swarm:
// every plan keeps its invariants (memory fits, stages cover the model, each volunteer once).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../../../protocol/model-flops.ts';
import type { VolunteerInput } from '../../../../relay/pipeline/plan-input.ts';
import { stageCost } from '../../../../relay/pipeline/stage-cost.ts';
import { AUTO_MIN_GAIN, planStages } from '../../../../relay/pipeline/stage-plan.ts';
import { allCuts, bruteForce, expectPlanInvariants, resolved, seeded } from './plan-fixtures.ts';

const SMALL: GptConfig = { vocabSize: 64, contextLength: 8, dModel: 16, nLayer: 4, nHead: 2 };
const MICROBATCH = { B: 2, T: 8 };

/** The least and most any stage of SMALL can need, so that drawn memories make the constraint bite. */
function needRange(model: GptConfig): [number, number] {
  const cost = stageCost(model, resolved(model, { stages: 'auto', microbatch: MICROBATCH }));
  const needs: number[] = [];
  for (let S = 1; S <= model.nLayer; S++)
    for (const cuts of allCuts(model.nLayer, S))
      for (let s = 0; s < S; s++)
        needs.push(cost.memoryBytes(s, S, cuts[s] as number, cuts[s + 1] as number));
  return [Math.min(...needs), Math.max(...needs)];
}
const [LEAST, MOST] = needRange(SMALL);

const volunteersArb = (n: number) =>
  fc.array(
    fc.record({
      flops: fc.integer({ min: 1, max: 12 }),
      memory: fc.double({ min: LEAST * 0.9, max: MOST * 1.05, noNaN: true }),
    }),
    { minLength: n, maxLength: n },
  );

const asVolunteers = (drawn: { flops: number; memory: number }[]): VolunteerInput[] =>
  drawn.map((d, i) => ({
    id: `v${i}`,
    flopsPerSec: d.flops * 1e9,
    memoryBytes: d.memory,
    uplinkBytesPerSec: 1e6,
  }));

describe('planStages against brute force (4 layers)', () => {
  it('finds the optimal bottleneck for every fixed S with 5 volunteers, or refuses when nothing fits', () => {
    fc.assert(
      fc.property(volunteersArb(5), (drawn) => {
        const volunteers = asVolunteers(drawn);
        for (let S = 1; S <= SMALL.nLayer; S++) {
          const options = { stages: S, microbatch: MICROBATCH };
          const best = bruteForce(SMALL, options, volunteers, S);
          const plan = planStages(SMALL, volunteers, options);
          if (best === null) {
            expect(plan.ok).toBe(false);
            if (!plan.ok) expect(['ERR_PLAN_MEMORY', 'ERR_PLAN_TOO_FEW_VOLUNTEERS']).toContain(plan.code);
            continue;
          }
          expect(plan.ok).toBe(true);
          if (!plan.ok) continue;
          expect(plan.exact).toBe(true);
          expect(plan.stages).toHaveLength(S);
          expect(plan.secondsPerMicrobatch).toBeCloseTo(best, 20);
          expect(Math.abs(plan.secondsPerMicrobatch / best - 1)).toBeLessThan(1e-9);
          expectPlanInvariants(plan, volunteers);
        }
      }),
      { numRuns: 120, seed: 7 },
    );
  });

  it("with 'auto', comes within AUTO_MIN_GAIN of the best stage count", () => {
    fc.assert(
      fc.property(volunteersArb(5), (drawn) => {
        const volunteers = asVolunteers(drawn);
        const options = { stages: 'auto' as const, microbatch: MICROBATCH };
        const bests = [1, 2, 3, 4].map((S) => bruteForce(SMALL, options, volunteers, S));
        const best = Math.min(...bests.filter((b): b is number => b !== null));
        const plan = planStages(SMALL, volunteers, options);
        expect(plan.ok).toBe(Number.isFinite(best));
        if (!plan.ok) return;
        expect(plan.secondsPerMicrobatch).toBeLessThanOrEqual((best / (1 - AUTO_MIN_GAIN)) * (1 + 1e-9));
        expectPlanInvariants(plan, volunteers);
      }),
      { numRuns: 80, seed: 11 },
    );
  });

  it('keeps the heuristic (used past the exact budget) close to optimal', () => {
    const ratios: number[] = [];
    fc.assert(
      fc.property(volunteersArb(6), fc.integer({ min: 2, max: 4 }), (drawn, S) => {
        const volunteers = asVolunteers(drawn);
        const options = { stages: S, microbatch: MICROBATCH, exactBudget: 0 };
        const best = bruteForce(SMALL, options, volunteers, S);
        const plan = planStages(SMALL, volunteers, options);
        if (best === null) return;
        // Feasibility is never lost: the greedy fills every stage whenever any assignment can.
        expect(plan.ok).toBe(true);
        if (!plan.ok) return;
        expect(plan.exact).toBe(false);
        expectPlanInvariants(plan, volunteers);
        ratios.push(plan.secondsPerMicrobatch / best);
      }),
      { numRuns: 150, seed: 3 },
    );
    const optimal = ratios.filter((r) => r < 1 + 1e-9).length;
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    const worst = Math.max(...ratios);
    console.log(
      `heuristic vs brute force, 4 layers x 6 volunteers: ${optimal}/${ratios.length} optimal, ` +
        `mean ratio ${mean.toFixed(4)}, worst ${worst.toFixed(4)}`,
    );
    expect(ratios.every((r) => r >= 1 - 1e-9)).toBe(true);
    // Seen here: 137 of 140 optimal, mean 1.002, worst 1.154 (a two-for-two exchange it misses).
    expect(worst).toBeLessThan(1.25);
    expect(mean).toBeLessThan(1.02);
  });
});

describe('planStages', () => {
  it('moves a layer boundary toward the faster volunteer', () => {
    // The 3x faster volunteer takes three times the layers: 6 and 2 of 8 (the head, on the
    // last stage, is worth a twelfth of a layer here, so the fast one takes the last stage).
    const model: GptConfig = { vocabSize: 16, contextLength: 8, dModel: 16, nLayer: 8, nHead: 2 };
    const volunteers: VolunteerInput[] = [
      { id: 'slow', flopsPerSec: 1e9, memoryBytes: 2 ** 30, uplinkBytesPerSec: 1e6 },
      { id: 'fast', flopsPerSec: 3e9, memoryBytes: 2 ** 30, uplinkBytesPerSec: 1e6 },
    ];
    const plan = planStages(model, volunteers, { stages: 2, microbatch: { B: 1, T: 8 } });
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.stages.map((st) => [st.layers, st.members.map((m) => m.id)])).toEqual([
      [{ start: 0, end: 2 }, ['slow']],
      [{ start: 2, end: 8 }, ['fast']],
    ]);
  });

  it('converts tokens per second on the whole model into FLOP/s', () => {
    const plan = planStages(
      SMALL,
      [{ id: 'a', tokensPerSec: 500, memoryBytes: 2 ** 30, uplinkBytesPerSec: 0 }],
      {
        stages: 1,
        microbatch: MICROBATCH,
      },
    );
    if (!plan.ok) throw new Error(plan.message);
    const perToken = stageFlopsPerToken(SMALL, { layers: { start: 0, end: 4 }, isLast: true }, 8).training;
    expect(plan.stages[0]?.flopsPerSec).toBe(500 * perToken);
    expect(plan.secondsPerMicrobatch).toBeCloseTo(16 / 500, 12);
    expect(plan.stages[0]?.sendSecondsPerMicrobatch).toBe(0); // one stage sends nothing
  });

  it('refuses too few volunteers and too little memory, saying what is missing', () => {
    const v = (id: string, memoryBytes: number): VolunteerInput => ({
      id,
      flopsPerSec: 1e9,
      memoryBytes,
      uplinkBytesPerSec: 1,
    });
    const few = planStages(SMALL, [v('a', MOST), v('b', MOST)], { stages: 3, microbatch: MICROBATCH });
    expect(few).toMatchObject({ ok: false, code: 'ERR_PLAN_TOO_FEW_VOLUNTEERS', stages: 3, volunteers: 2 });

    const small = [v('a', LEAST / 2), v('b', LEAST / 3), v('c', LEAST / 4), v('d', LEAST / 5)];
    const short = planStages(SMALL, small, { stages: 4, microbatch: MICROBATCH });
    expect(short).toMatchObject({ ok: false, code: 'ERR_PLAN_MEMORY', stages: 4 });
    if (short.ok || short.code !== 'ERR_PLAN_MEMORY') return;
    expect(short.shortBytes).toBeGreaterThan(0);
    expect(short.message).toMatch(/needs \d+ more bytes on each of 4 volunteers/);
    // The figure is enough: every volunteer given that much more can hold the leanest split.
    const grown = small.map((x) => ({ ...x, memoryBytes: x.memoryBytes + short.shortBytes }));
    expect(planStages(SMALL, grown, { stages: 4, microbatch: MICROBATCH }).ok).toBe(true);

    // 'auto' with one volunteer that could hold a quarter of the model: it needs more of them.
    const cost = stageCost(SMALL, resolved(SMALL, { stages: 'auto', microbatch: MICROBATCH }));
    const quarter = Math.max(...[0, 1, 2, 3].map((s) => cost.memoryBytes(s, 4, s, s + 1)));
    const one = planStages(SMALL, [v('a', quarter)], { stages: 'auto', microbatch: MICROBATCH });
    expect(one).toMatchObject({ ok: false, code: 'ERR_PLAN_TOO_FEW_VOLUNTEERS', volunteers: 1 });
  });

  it('sets aside volunteers with hostile numbers and plans with the rest', () => {
    const plan = planStages(
      SMALL,
      [
        { id: 'ok', flopsPerSec: 1e9, memoryBytes: MOST, uplinkBytesPerSec: 1 },
        { id: 'nan', flopsPerSec: Number.NaN, memoryBytes: MOST, uplinkBytesPerSec: 1 },
        { id: 'neg', flopsPerSec: 1e9, memoryBytes: -1, uplinkBytesPerSec: 1 },
        { id: 'huge', flopsPerSec: 1e30, memoryBytes: MOST, uplinkBytesPerSec: 1 },
        { id: 'ok', flopsPerSec: 1e9, memoryBytes: MOST, uplinkBytesPerSec: 1 },
        { id: 'both', flopsPerSec: 1e9, tokensPerSec: 3, memoryBytes: MOST, uplinkBytesPerSec: 1 },
      ],
      { stages: 'auto', microbatch: MICROBATCH },
    );
    if (!plan.ok) throw new Error(plan.message);
    expect(plan.rejected.map((r) => [r.id, r.code])).toEqual([
      ['nan', 'ERR_VOLUNTEER_SPEED'],
      ['neg', 'ERR_VOLUNTEER_MEMORY'],
      ['huge', 'ERR_VOLUNTEER_SPEED'],
      ['ok', 'ERR_VOLUNTEER_DUPLICATE'],
      ['both', 'ERR_VOLUNTEER_SPEED'],
    ]);
    expect(plan.stages.flatMap((st) => st.members.map((m) => m.id))).toEqual(['ok']);
  });
});

describe('planStages on a large swarm (48 layers, 1000 volunteers)', () => {
  // GPT-2 XL's shape: 48 layers of width 1600, 1.5 B parameters, 24 B of state each.
  const XL: GptConfig = { vocabSize: 50304, contextLength: 1024, dModel: 1600, nLayer: 48, nHead: 25 };
  const random = seeded(2024);
  const volunteers: VolunteerInput[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `v${i}`,
    memoryBytes: Math.round((4 + 20 * random()) * 2 ** 30), // 4 to 24 GiB
    flopsPerSec: (1 + 49 * random()) * 1e12, // 1 to 50 TFLOP/s
    uplinkBytesPerSec: (1 + 99 * random()) * 1e6,
  }));

  for (const stages of [8, 'auto'] as const) {
    it(`plans S = ${stages} quickly and balances the stages`, () => {
      const started = performance.now();
      const plan = planStages(XL, volunteers, { stages, microbatch: { B: 1, T: 1024 }, microbatches: 32 });
      const ms = performance.now() - started;
      if (!plan.ok) throw new Error(plan.message);
      expectPlanInvariants(plan, volunteers);
      const times = plan.stages.map((st) => st.secondsPerMicrobatch);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      console.log(
        `S=${plan.stages.length} (${stages}) in ${ms.toFixed(0)} ms: bottleneck ${(plan.secondsPerMicrobatch * 1e3).toFixed(3)} ms ` +
          `per microbatch, stage mean ${(mean * 1e3).toFixed(3)} ms, perfectly balanced ${(plan.balancedSecondsPerMicrobatch * 1e3).toFixed(3)} ms ` +
          `(x${(plan.secondsPerMicrobatch / plan.balancedSecondsPerMicrobatch).toFixed(5)}); ` +
          `layers ${plan.stages.map((st) => st.layers.end - st.layers.start).join('/')}, ` +
          `replicas ${plan.stages.map((st) => st.members.length).join('/')}, idle ${plan.idle.length}`,
      );
      expect(ms).toBeLessThan(10_000); // 0.1 s (S = 8) and 0.5 s (auto) here; the machine is shared
      expect(plan.secondsPerMicrobatch).toBeLessThan(plan.balancedSecondsPerMicrobatch * 1.01);
    });
  }
});

// Properties of planStages over random and hostile input: it never throws, every refusal has a
// known code, and every plan seats each volunteer once, on a stage its memory holds, with no
// stage empty.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import type { PlanErrorCode, PlanOptions, VolunteerInput } from '../../../../relay/pipeline/plan-input.ts';
import { planStages } from '../../../../relay/pipeline/stage-plan.ts';
import { expectPlanInvariants } from './plan-fixtures.ts';

const CODES: ReadonlySet<PlanErrorCode> = new Set<PlanErrorCode>([
  'ERR_PLAN_MODEL',
  'ERR_PLAN_OPTIONS',
  'ERR_PLAN_TOO_MANY_VOLUNTEERS',
  'ERR_PLAN_TOO_FEW_VOLUNTEERS',
  'ERR_PLAN_MEMORY',
]);

const modelArb: fc.Arbitrary<GptConfig> = fc
  .record({
    nLayer: fc.integer({ min: 1, max: 10 }),
    heads: fc.integer({ min: 1, max: 4 }),
    width: fc.integer({ min: 1, max: 8 }),
    vocabSize: fc.integer({ min: 2, max: 300 }),
    contextLength: fc.integer({ min: 1, max: 64 }),
  })
  .map(({ nLayer, heads, width, vocabSize, contextLength }) => ({
    nLayer,
    nHead: heads,
    dModel: 4 * heads * width,
    vocabSize,
    contextLength,
  }));

const volunteerArb: fc.Arbitrary<VolunteerInput> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 3 }),
  // 1 KiB to 64 GiB, spread on a log scale so that some hold everything and some nothing.
  memoryBytes: fc.double({ min: 10, max: 36, noNaN: true }).map((e) => Math.round(2 ** e)),
  flopsPerSec: fc.double({ min: 1e6, max: 1e15, noNaN: true }),
  uplinkBytesPerSec: fc.double({ min: 0, max: 1e9, noNaN: true }),
});

describe('planStages properties', () => {
  it('seats every volunteer once, within its memory, with no stage empty, or refuses with a code', () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.array(volunteerArb, { minLength: 0, maxLength: 40 }),
        fc.record({
          stages: fc.oneof(fc.constant('auto' as const), fc.integer({ min: 1, max: 10 })),
          B: fc.integer({ min: 1, max: 4 }),
          T: fc.integer({ min: 1, max: 64 }),
          exactBudget: fc.constantFrom(0, 1000, 200_000),
          reserveBytes: fc.constantFrom(0, 2 ** 20),
          microbatches: fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }),
        }),
        (model, volunteers, o) => {
          const options: PlanOptions = {
            stages: o.stages,
            microbatch: { B: o.B, T: Math.min(o.T, model.contextLength) },
            exactBudget: o.exactBudget,
            reserveBytes: o.reserveBytes,
            microbatches: o.microbatches,
          };
          const plan = planStages(model, volunteers, options);
          if (plan.ok) {
            expectPlanInvariants(plan, volunteers);
            if (o.stages !== 'auto') expect(plan.stages).toHaveLength(o.stages);
            return;
          }
          expect(CODES.has(plan.code)).toBe(true);
          if (plan.code === 'ERR_PLAN_TOO_FEW_VOLUNTEERS')
            expect(plan.stages).toBeGreaterThan(plan.volunteers);
          if (plan.code === 'ERR_PLAN_MEMORY') expect(plan.shortBytes).toBeGreaterThanOrEqual(0);
          if (plan.code === 'ERR_PLAN_OPTIONS') expect(o.stages).toBeGreaterThan(model.nLayer);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('never throws on hostile numbers, types or shapes', () => {
    const hostile = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constantFrom(
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        -0,
        -1,
        1e308,
        2 ** 53,
        0.5,
      ),
      fc.string({ maxLength: 4 }),
      fc.constantFrom(null, undefined, true, {}, []),
    );
    // Mostly sane, so that a hostile value is often the only one and reaches the code past the
    // checks before it.
    const maybe = <T>(arb: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: arb, weight: 12 }, { arbitrary: hostile as fc.Arbitrary<unknown>, weight: 1 });
    const absentOr = fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: hostile as fc.Arbitrary<unknown>, weight: 1 },
    );
    const model = fc.record({
      vocabSize: maybe(fc.integer({ min: 1, max: 64 })),
      contextLength: maybe(fc.integer({ min: 4, max: 16 })),
      dModel: maybe(fc.constantFrom(4, 8, 16)),
      nLayer: maybe(fc.integer({ min: 1, max: 6 })),
      nHead: maybe(fc.constantFrom(1, 2, 4)),
    });
    const volunteer = maybe(
      fc.record({
        id: maybe(fc.string({ minLength: 1, maxLength: 3 })),
        memoryBytes: maybe(fc.integer({ min: 0, max: 2 ** 24 })),
        flopsPerSec: maybe(fc.double({ min: 1, max: 1e12, noNaN: true })),
        tokensPerSec: absentOr,
        uplinkBytesPerSec: maybe(fc.integer({ min: 0, max: 1e6 })),
      }),
    );
    const options = maybe(
      fc.record({
        stages: maybe(fc.oneof(fc.constant('auto'), fc.integer({ min: 1, max: 6 }))),
        microbatch: maybe(
          fc.record({ B: maybe(fc.integer({ min: 1, max: 2 })), T: maybe(fc.integer({ min: 1, max: 4 })) }),
        ),
        stateBytesPerParam: absentOr,
        microbatches: absentOr,
        reserveBytes: absentOr,
        exactBudget: absentOr,
      }),
    );
    fc.assert(
      fc.property(model, maybe(fc.array(volunteer, { maxLength: 12 })), options, (m, vs, o) => {
        const plan = planStages(m as never, vs as never, o as never);
        if (plan.ok) expectPlanInvariants(plan, vs as unknown[]);
        else expect(CODES.has(plan.code)).toBe(true);
      }),
      { numRuns: 500, seed: 9 },
    );
  });

  it('refuses more volunteers than the cap without looking at them', () => {
    const model: GptConfig = { vocabSize: 16, contextLength: 4, dModel: 8, nLayer: 2, nHead: 2 };
    const plan = planStages(model, new Array(10_001).fill(null), {
      stages: 'auto',
      microbatch: { B: 1, T: 4 },
    });
    expect(plan).toMatchObject({ ok: false, code: 'ERR_PLAN_TOO_MANY_VOLUNTEERS' });
  });
});

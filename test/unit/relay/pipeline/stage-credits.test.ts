// Pipeline credits: each stage earns its own layers' training FLOPs for the tokens the relay
// routed through it, and over all stages that is the whole model's, as protocol/model-flops.ts counts it.
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../../../protocol/model-flops.ts';
import { stageCost } from '../../../../relay/pipeline/stage-cost.ts';
import { stageCredits } from '../../../../relay/pipeline/stage-credits.ts';
import { assemblePlan } from '../../../../relay/pipeline/stage-plan.ts';
import { allCuts, resolved } from './plan-fixtures.ts';

const MODEL: GptConfig = { vocabSize: 50304, contextLength: 1024, dModel: 768, nLayer: 6, nHead: 12 };
const OPTIONS = resolved(MODEL, { stages: 'auto', microbatch: { B: 4, T: 1024 } });

/** A plan over `cuts` with two volunteers per stage, s.a and s.b. */
function planOver(cuts: readonly number[]) {
  const S = cuts.length - 1;
  const volunteers = Array.from({ length: S }, (_, s) =>
    ['a', 'b'].map((x) => ({
      id: `${s}.${x}`,
      flopsPerSec: 1e12,
      memoryBytes: 2 ** 40,
      uplinkBytesPerSec: 1e6,
    })),
  ).flat();
  const stageOf = Int32Array.from(volunteers, (_, i) => Math.floor(i / 2));
  return assemblePlan(MODEL, OPTIONS, stageCost(MODEL, OPTIONS), volunteers, [], cuts, stageOf, false);
}

describe('stageCredits', () => {
  it("sums over the stages to the whole model's training FLOPs for every split", () => {
    const { B, T } = OPTIONS;
    const whole = stageFlopsPerToken(
      MODEL,
      { layers: { start: 0, end: MODEL.nLayer }, isLast: true },
      T,
    ).training;
    // PaLM's count, which protocol/model-flops.ts implements: 6·N + 12·L·T·C per token, N = 12·L·C² + V·C.
    const { nLayer: L, dModel: C, vocabSize: V } = MODEL;
    expect(whole).toBe(6 * (12 * L * C * C + V * C) + 12 * L * T * C);
    const microbatches = 1_000_003; // a long run: tokens × FLOPs pass 2^53
    for (let S = 1; S <= L; S++)
      for (const cuts of allCuts(L, S)) {
        const plan = planOver(cuts);
        // Every microbatch passes every stage, split between its two replicas.
        const work = plan.stages.flatMap((st) => [
          { stage: st.stage, volunteer: `${st.stage}.a`, microbatches: 400_000 },
          { stage: st.stage, volunteer: `${st.stage}.b`, microbatches: microbatches - 400_000 },
        ]);
        const credits = stageCredits(plan, work);
        expect(credits.refused).toEqual([]);
        const total = credits.lines.reduce((sum, line) => sum + line.flops, 0n);
        expect(total).toBe(BigInt(whole) * BigInt(microbatches * B * T));
        expect(credits.perStage.reduce((a, b) => a + b, 0n)).toBe(total);
        expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      }
  });

  it('credits only what the plan assigned, in whole microbatches', () => {
    const plan = planOver([0, 3, 6]);
    const credits = stageCredits(plan, [
      { stage: 0, volunteer: '0.a', microbatches: 2 },
      { stage: 1, volunteer: '0.a', microbatches: 2 }, // not on stage 1
      { stage: 2, volunteer: '1.a', microbatches: 1 },
      { stage: 0.5, volunteer: '0.a', microbatches: 1 },
      { stage: 1, volunteer: '1.b', microbatches: -1 },
      { stage: 1, volunteer: '1.b', microbatches: Number.NaN },
      { stage: 1, volunteer: '1.b', microbatches: 2 ** 60 },
    ]);
    expect(credits.refused.map((r) => r.code)).toEqual([
      'ERR_CREDIT_NOT_ASSIGNED',
      'ERR_CREDIT_STAGE',
      'ERR_CREDIT_STAGE',
      'ERR_CREDIT_MICROBATCHES',
      'ERR_CREDIT_MICROBATCHES',
      'ERR_CREDIT_MICROBATCHES',
    ]);
    const perToken = stageFlopsPerToken(
      MODEL,
      { layers: { start: 0, end: 3 }, isLast: false },
      1024,
    ).training;
    expect(credits.lines).toEqual([
      { stage: 0, volunteer: '0.a', tokens: 2 * 4 * 1024, flops: BigInt(perToken * 2 * 4 * 1024) },
    ]);
  });
});

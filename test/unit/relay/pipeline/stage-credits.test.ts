// Pipeline credits: each stage earns its own layers' training FLOPs for the tokens the relay
// routed through it, and over all stages that is the whole model's, as protocol/model-flops.ts counts it.
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../../../protocol/model-flops.ts';
import { type CreditedPlan, stageCredits } from '../../../../relay/pipeline/stage-credits.ts';

const MODEL: GptConfig = { vocabSize: 50304, contextLength: 1024, dModel: 768, nLayer: 6, nHead: 12 };
const OPTIONS = { B: 4, T: 1024 };

/** Every composition of L layers into S non-empty contiguous stages, as cut lists. */
function* allCuts(L: number, S: number): Generator<number[]> {
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

/** Stage s holds layers [cuts[s], cuts[s + 1]) with two volunteers, s.a and s.b. */
function planOver(cuts: readonly number[]): CreditedPlan {
  return {
    model: MODEL,
    options: OPTIONS,
    stages: cuts.slice(1).map((end, s) => ({
      stage: s,
      layers: { start: cuts[s] as number, end },
      members: [{ id: `${s}.a` }, { id: `${s}.b` }],
    })),
  };
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

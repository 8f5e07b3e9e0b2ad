// The planner's price of a stage agrees with what the pipeline code builds: parameter floats
// with stageLayout, FLOPs with stageFlopsPerToken, activation slots with 1F1B's S − s.
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../../../protocol/model-flops.ts';
import { stageLayout } from '../../../../protocol/stage-layout.ts';
import { stageCost } from '../../../../relay/pipeline/stage-cost.ts';
import { allCuts, resolved } from './plan-fixtures.ts';

const CONFIG: GptConfig = { vocabSize: 96, contextLength: 16, dModel: 32, nLayer: 6, nHead: 4 };

describe('stageCost', () => {
  const options = resolved(CONFIG, { stages: 'auto', microbatch: { B: 3, T: 16 } });
  const cost = stageCost(CONFIG, options);

  it('counts the floats stageLayout gives every stage of every split', () => {
    for (let S = 1; S <= CONFIG.nLayer; S++)
      for (const cuts of allCuts(CONFIG.nLayer, S)) {
        const split = cuts.slice(0, -1).map((start, s) => ({ start, end: cuts[s + 1] as number }));
        split.forEach((r, s) => {
          const layout = stageLayout(CONFIG, split, s);
          const { owned, copy } = cost.paramFloats(s, S, r.start, r.end);
          expect(owned + copy).toBe(layout.totalFloats);
          expect(copy).toBe(layout.ownedStart);
          expect(cost.flopsPerToken(r.start, r.end, s === S - 1)).toBe(
            stageFlopsPerToken(CONFIG, { layers: r, isLast: s === S - 1 }, 16).training,
          );
        });
      }
  });

  it('prices the state per parameter and one activation slot per microbatch in flight', () => {
    // A middle stage of 2 layers out of S = 4: S − s = 2 slots, 24 B per owned parameter.
    const BT = 3 * 16;
    const { dModel: C, nHead: NH } = CONFIG;
    const blockWords = BT * (18 * C + 4) + 3 * NH * 16;
    const slotBytes = 4 * (BT * C + 2 * blockWords);
    const scratchBytes = 4 * (14 * BT * C + 2);
    const { owned } = cost.paramFloats(2, 4, 2, 4);
    expect(cost.slots(2, 4)).toBe(2);
    expect(cost.memoryBytes(2, 4, 2, 4)).toBe(24 * owned + 2 * slotBytes + scratchBytes);
    // The first stage keeps S slots, the last one; M caps them.
    expect(cost.slots(0, 4)).toBe(4);
    expect(cost.slots(3, 4)).toBe(1);
    const capped = stageCost(CONFIG, { ...options, microbatches: 2 });
    expect(capped.slots(0, 4)).toBe(2);
    // Same layer count, same bytes, wherever the layers start (the search relies on it).
    expect(cost.memoryBytes(1, 4, 1, 3)).toBe(cost.memoryBytes(1, 4, 3, 5));
  });

  it('sums the stages to the whole model', () => {
    for (const cuts of allCuts(CONFIG.nLayer, 3)) {
      const total = [0, 1, 2].reduce(
        (sum, s) => sum + cost.flopsPerToken(cuts[s] as number, cuts[s + 1] as number, s === 2),
        0,
      );
      expect(total).toBe(cost.modelFlopsPerToken);
    }
  });
});

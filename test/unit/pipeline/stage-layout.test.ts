// Splitting the model into stages: balanced contiguous layer ranges, every tensor of the flat
// buffer owned by exactly one stage (the head's copy of wte by none), local buffers that keep
// the alignment and decay-prefix rules, and per-stage FLOPs that add up to the model's.
import { describe, expect, it } from 'vitest';
import type { GptConfig } from '../../../protocol/gpt-config.ts';
import { stageFlopsPerToken } from '../../../protocol/model-flops.ts';
import { paramLayout, TENSOR_ALIGN_FLOATS, WPE, WTE } from '../../../protocol/param-layout.ts';
import { splitLayers, stageLayout, validateSplit } from '../../../protocol/stage-layout.ts';

const CONFIG: GptConfig = { vocabSize: 256, contextLength: 16, dModel: 32, nLayer: 7, nHead: 4 };

describe('splitLayers', () => {
  it('balances contiguous ranges, extra layers off the last stage', () => {
    expect(splitLayers(7, 3)).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 5 },
      { start: 5, end: 7 },
    ]);
    expect(splitLayers(5, 2)).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 5 },
    ]);
    for (let L = 1; L <= 12; L++) {
      for (let S = 1; S <= L; S++) {
        const split = splitLayers(L, S);
        validateSplit(L, split);
        const sizes = split.map((r) => r.end - r.start);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        if (S > 1) expect(sizes.at(-1)).toBe(Math.floor(L / S));
      }
    }
    expect(() => splitLayers(2, 3)).toThrow(RangeError);
    expect(() => validateSplit(4, [{ start: 0, end: 2 }])).toThrow(/cover/);
  });
});

describe('stageLayout', () => {
  for (const S of [1, 2, 3, 7]) {
    it(`gives every tensor one owner over ${S} stages, the head a copy of wte`, () => {
      const global = paramLayout(CONFIG);
      const split = splitLayers(CONFIG.nLayer, S);
      const owners = new Map<string, number>();
      const flat = Float32Array.from({ length: global.totalFloats }, (_, i) => i + 1);
      const rebuilt = new Float32Array(global.totalFloats);
      let owned = 0;
      for (let s = 0; s < S; s++) {
        const layout = stageLayout(CONFIG, split, s);
        for (const t of layout.tensors) {
          expect(t.offset % TENSOR_ALIGN_FLOATS).toBe(0);
          if (t.copy) continue;
          expect(owners.has(t.name), t.name).toBe(false);
          owners.set(t.name, s);
        }
        expect(layout.tiedCopy).toBe(S > 1 && s === S - 1);
        if (layout.tiedCopy) {
          expect(layout.get(WTE)).toMatchObject({ copy: true, offset: 0 });
          // The copy spans wte's aligned range, which ends where wpe starts.
          expect(layout.ownedStart).toBe(global.get(WPE).offset);
        }
        // Decayed tensors first, then the rest: AdamW decays one local prefix.
        for (const t of layout.tensors) expect(t.offset < layout.decayEnd).toBe(t.decay);
        // The ranges are few: decayed weights, then biases and LayerNorms (plus the copy).
        expect(layout.ranges.length).toBeLessThanOrEqual(layout.tiedCopy ? 3 : 2);
        const local = layout.gather(flat);
        for (const t of layout.tensors)
          expect(local.subarray(t.offset, t.offset + t.size)).toEqual(
            flat.subarray(t.globalOffset, t.globalOffset + t.size),
          );
        layout.scatter(local, rebuilt);
        owned += layout.paramCount;
      }
      expect(owners.size).toBe(global.tensors.length);
      expect(owned).toBe(global.paramCount);
      expect(rebuilt).toEqual(flat);
    });
  }
});

describe('stageFlopsPerToken', () => {
  it('adds up to 6N + 12·L·T·C for training, split by layers and the head', () => {
    const T = 16;
    const { dModel: C, vocabSize: V, nLayer: L } = CONFIG;
    const split = splitLayers(L, 3);
    const stages = split.map((_, s) => stageFlopsPerToken(CONFIG, stageLayout(CONFIG, split, s), T));
    const total = stages.reduce((sum, f) => sum + f.training, 0);
    const N = 12 * L * C * C + V * C;
    expect(total).toBe(6 * N + 12 * L * T * C);
    for (const f of stages) expect(f.training).toBe(3 * f.forward);
    console.log(`per-token training FLOPs by stage: ${stages.map((f) => f.training).join(', ')}`);
    // The last stage has fewer layers but the head.
    expect(stages[2]?.matmulParams).toBe(2 * 12 * C * C + V * C);
  });
});

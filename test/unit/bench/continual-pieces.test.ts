// bench:continual's pieces that would skew its table without failing (test/bench/continual/):
// the genre split gives two disjoint, non-empty sets; mixed batches hold exactly the asked
// fraction of the other set; a continual method pays for its B phase only; the infinite
// schedule crosses from A to B at its constant, without re-warming.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { listBrownFiles } from '../../../relay/datasets/brown.ts';
import { B_CATEGORIES, splitByCategory } from '../../bench/continual/category-split.ts';
import { computeRatio, continualPhases, retrainingPhases } from '../../bench/continual/compute.ts';
import { isMixedIn, MixedBatches } from '../../bench/continual/mixture.ts';
import { infinitePhases } from '../../bench/continual/schedules.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';

describe('category split', () => {
  it('puts every A and B file on one side only, and neither side is empty', () => {
    const files = listBrownFiles();
    const { a, b } = splitByCategory(files);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(a.filter((id) => b.includes(id))).toEqual([]);
    const genre = new Map(files.map((f) => [f.id, f.category]));
    for (const id of b) expect(B_CATEGORIES).toContain(genre.get(id));
    for (const id of a) expect(B_CATEGORIES).not.toContain(genre.get(id));
  });

  it('refuses a genre on both sides and a side that matches no file', () => {
    const files = [
      { id: 'ca01', category: 'news' },
      { id: 'ck01', category: 'fiction' },
    ];
    expect(() => splitByCategory(files, ['news', 'fiction'], ['fiction'])).toThrow(/both sides: fiction/);
    expect(() => splitByCategory(files, ['news'], ['romance'])).toThrow(/no Brown file is in B/);
  });
});

describe('mixture', () => {
  it('draws exactly floor(n·f) of n sequences from the other set, at any batch size', () => {
    for (const fraction of [0, 0.05, 0.1, 0.25, 0.5, 1]) {
      for (const n of [1, 19, 20, 100, 1_000]) {
        let mixed = 0;
        for (let k = 0; k < n; k++) if (isMixedIn(k, fraction)) mixed++;
        expect(mixed).toBe(Math.floor(n * fraction + 1e-9));
      }
    }
  });

  it("batches hold the other set's tokens in that proportion", () => {
    const base = new MemorySplit(new Uint16Array(200).fill(1), 4);
    const other = new MemorySplit(new Uint16Array(200).fill(2), 4);
    const data = new MixedBatches(
      { split: base, rng: createRng(1) },
      { split: other, rng: createRng(2) },
      0.05,
    );
    let fromOther = 0;
    for (let step = 0; step < 25; step++) {
      const batch = data.sampleBatch(16, 8);
      for (let b = 0; b < 16; b++) if (batch.inputs[b * 8] === 2) fromOther++;
    }
    expect(fromOther).toBe(20); // 5% of 400 sequences
    expect(data.mixedIn).toBe(20);
    expect(
      () => new MixedBatches({ split: base, rng: createRng(1) }, { split: other, rng: createRng(2) }, 1.5),
    ).toThrow(RangeError);
  });
});

describe('compute accounting', () => {
  it("counts a continual method's B phase only, re-training's every token", () => {
    const a = 512_000;
    const b = 256_000;
    expect(computeRatio(continualPhases(a, b), retrainingPhases(a + b))).toBeCloseTo(1 / 3, 12);
    expect(computeRatio(retrainingPhases(a + b), retrainingPhases(a + b))).toBe(1);
    expect(() => computeRatio(continualPhases(a, b), retrainingPhases(0))).toThrow(RangeError);
  });
});

describe('infinite schedule', () => {
  it('reaches its constant within A, starts B there without a re-warm, and anneals to the floor', () => {
    const s = {
      learningRate: 1e-2,
      minLrRatio: 0.1,
      warmupSteps: 10,
      constantRatio: 0.3,
      cooldownSteps: 40,
      annealSteps: 20,
    };
    const { a, b } = infinitePhases(s, 100, 100);
    expect(a(9)).toBeCloseTo(1e-2, 12);
    expect(a(99)).toBeCloseTo(3e-3, 12);
    expect(b(0)).toBeCloseTo(3e-3, 12);
    expect(b(79)).toBeCloseTo(3e-3, 12);
    expect(b(80)).toBeLessThan(3e-3);
    expect(b(99)).toBeCloseTo(1e-3, 12);
  });
});

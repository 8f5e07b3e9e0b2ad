// bench:continual's pieces that would skew its table without failing (test/bench/continual/):
// the genre split gives two disjoint, non-empty sets; mixed batches hold exactly the asked
// fraction of the other set; replay reaches the infinite schedule's rows as well as the
// re-warm rows; a continual method pays for its B phase only; the infinite schedule crosses
// from A to B on its plateau, without re-warming.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../protocol/rng.ts';
import { brownPackageDir, readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { A_CATEGORIES, B_CATEGORIES, categorySources } from '../../bench/continual/category-split.ts';
import { computeRatio, continualPhases, retrainingPhases } from '../../bench/continual/compute.ts';
import { isMixedIn, MixedBatches } from '../../bench/continual/mixture.ts';
import { parseContinualCli } from '../../bench/continual/options.ts';
import { bPhasePlans } from '../../bench/continual/plans.ts';
import { infinitePhases } from '../../bench/continual/schedules.ts';
import { MemorySplit } from '../../helpers/memory-split.ts';

describe('category split', () => {
  it('gives A and B documents of their own genres only, none on both sides, neither side empty', () => {
    const { a, b } = categorySources();
    const aNames = readBrownCorpus(brownPackageDir(), a.categories).map((d) => d.name);
    const bNames = readBrownCorpus(brownPackageDir(), b.categories).map((d) => d.name);
    expect(aNames.length).toBeGreaterThan(0);
    expect(bNames.length).toBeGreaterThan(0);
    expect(aNames.filter((name) => bNames.includes(name))).toEqual([]);
    // brown/c<genre letter><two digits>
    for (const name of aNames) expect(A_CATEGORIES).toContain(name.charAt(7));
    for (const name of bNames) expect(B_CATEGORIES).toContain(name.charAt(7));
  });

  it('refuses a genre on both sides, however it is spelled', () => {
    expect(() => categorySources(['a', 'fiction'], ['k', 'l'])).toThrow(/both sides: k/);
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

describe('B phase plans', () => {
  it("mixes each --infinite-replay fraction into an infinite row of its own, from the infinite schedule's A model", () => {
    const cli = parseContinualCli(['--replay', '0.4', '--infinite-replay', '0.25,0.4']);
    if (!cli) throw new Error('no config');
    const plans = bPhasePlans(cli.config.replay, cli.config.infiniteReplay);
    expect(plans.map((p) => [p.method, p.from, p.rate, p.replay])).toEqual([
      ['no re-warm (A floor)', 'cosine', 'floor', 0],
      ['re-warm + re-decay', 'cosine', 'rewarm', 0],
      ['re-warm + re-decay + 40% replay', 'cosine', 'rewarm', 0.4],
      ['infinite: plateau on B, anneal', 'infinite', 'infinite', 0],
      ['infinite: plateau on B, anneal + 25% replay', 'infinite', 'infinite', 0.25],
      ['infinite: plateau on B, anneal + 40% replay', 'infinite', 'infinite', 0.4],
    ]);
    // Without the flag the table is what it was: one infinite row, no replay in it.
    expect(bPhasePlans([0.05], []).filter((p) => p.rate === 'infinite')).toEqual([
      { method: 'infinite: plateau on B, anneal', from: 'infinite', rate: 'infinite', replay: 0 },
    ]);
    expect(() => parseContinualCli(['--infinite-replay', '0.25,0'])).toThrow(/--infinite-replay/);
  });

  it("an infinite row's batches hold its replay fraction of A", () => {
    const [plan] = bPhasePlans([], [0.25]).filter((p) => p.rate === 'infinite' && p.replay > 0);
    if (!plan) throw new Error('no infinite replay row');
    const b = new MemorySplit(new Uint16Array(200).fill(1), 4);
    const a = new MemorySplit(new Uint16Array(200).fill(2), 4);
    const data = new MixedBatches(
      { split: b, rng: createRng(1) },
      { split: a, rng: createRng(2) },
      plan.replay,
    );
    let fromA = 0;
    for (let step = 0; step < 10; step++) {
      const batch = data.sampleBatch(16, 8);
      for (let row = 0; row < 16; row++) if (batch.inputs[row * 8] === 2) fromA++;
    }
    expect(fromA).toBe(40); // 25% of 160 sequences
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
  it('reaches its plateau within A, starts B there without a re-warm, and anneals to the floor', () => {
    const s = {
      learningRate: 1e-2,
      minLrRatio: 0.1,
      warmupSteps: 10,
      plateauRatio: 0.3,
      decaySteps: 40,
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

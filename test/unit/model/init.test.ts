// GPT-2 initialisation: deterministic from the seed, with GPT-2's statistics.
import { describe, expect, it } from 'vitest';
import { CpuGpt } from '../../../kernels/reference/gpt.ts';
import { DEFAULT_MODEL } from '../../../protocol/gpt-config.ts';
import { INIT_STD, initParams } from '../../../protocol/init-params.ts';
import { blockNames, LNF_BIAS, LNF_WEIGHT, paramLayout, WPE, WTE } from '../../../protocol/param-layout.ts';
import { createRng } from '../../../protocol/rng.ts';
import { expectBitIdentical } from '../../helpers/compare.ts';

const layout = paramLayout(DEFAULT_MODEL);

function stats(params: Float32Array, name: string) {
  const spec = layout.get(name);
  const t = params.subarray(spec.offset, spec.offset + spec.size);
  let sum = 0;
  let squares = 0;
  for (const x of t) {
    sum += x;
    squares += x * x;
  }
  const mean = sum / t.length;
  return { mean, std: Math.sqrt(squares / t.length - mean * mean), values: t };
}

describe('initParams', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = initParams(DEFAULT_MODEL, 42);
    expectBitIdentical('same seed', initParams(DEFAULT_MODEL, 42), a);
    expectBitIdentical('same seed through an Rng', initParams(DEFAULT_MODEL, createRng(42)), a);
    expect(initParams(DEFAULT_MODEL, 43)).not.toEqual(a);
  });

  it("has GPT-2's statistics", () => {
    const params = initParams(DEFAULT_MODEL, 1);
    const n = blockNames(DEFAULT_MODEL.nLayer - 1);
    const projectionStd = INIT_STD / Math.sqrt(2 * DEFAULT_MODEL.nLayer);
    const expected: Array<[string, number]> = [
      [WTE, INIT_STD],
      [WPE, INIT_STD],
      [n.qkvw, INIT_STD],
      [n.fcw, INIT_STD],
      [n.attprojw, projectionStd],
      [n.fcprojw, projectionStd],
    ];
    for (const [name, std] of expected) {
      const s = stats(params, name);
      console.log(
        `${name}: mean=${s.mean.toExponential(2)} std=${s.std.toExponential(4)} (want ${std.toExponential(4)})`,
      );
      expect(Math.abs(s.std / std - 1), name).toBeLessThan(0.05);
      expect(Math.abs(s.mean), name).toBeLessThan(0.1 * std);
    }
    for (const name of [n.ln1w, n.ln2w, LNF_WEIGHT])
      expect(stats(params, name).values.every((x) => x === 1)).toBe(true);
    for (const name of [n.ln1b, n.qkvb, n.attprojb, n.fcb, n.fcprojb, LNF_BIAS]) {
      expect(
        stats(params, name).values.every((x) => x === 0),
        name,
      ).toBe(true);
    }
  });

  it('leaves padding zero', () => {
    // Width 8 leaves most of every 64-float slot of a bias as padding (the default model has none).
    const small = { vocabSize: 16, contextLength: 8, dModel: 8, nLayer: 2, nHead: 2 };
    const smallLayout = paramLayout(small);
    const params = initParams(small, 5, { std: 1 });
    const used = new Uint8Array(smallLayout.totalFloats);
    for (const t of smallLayout.tensors) used.fill(1, t.offset, t.offset + t.size);
    let nonzeroPadding = 0;
    for (let i = 0; i < params.length; i++) if (!used[i] && params[i] !== 0) nonzeroPadding++;
    expect(used.includes(0)).toBe(true);
    expect(nonzeroPadding).toBe(0);
  });

  it('starts at a loss of about ln(V) on random tokens', () => {
    const { vocabSize: V, contextLength: T } = DEFAULT_MODEL;
    const B = 2;
    const rng = createRng(9);
    const tokens = Array.from({ length: B * T + 1 }, () => rng.nextBelow(V));
    const model = new CpuGpt(DEFAULT_MODEL, initParams(DEFAULT_MODEL, 11));
    const { loss } = model.forward(tokens.slice(0, B * T), tokens.slice(1), B, T);
    // The tied head gives logits of std about 0.02 * sqrt(C) = 0.23, which adds about half
    // their variance (0.03) to ln(V).
    console.log(`initial loss ${loss.toFixed(4)}, ln(V) = ${Math.log(V).toFixed(4)}`);
    expect(Math.abs(loss - Math.log(V))).toBeLessThan(0.05);
  });
});

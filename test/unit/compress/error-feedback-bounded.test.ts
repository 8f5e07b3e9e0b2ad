// Error feedback only works with a quantizer whose error shrinks what it is given: the
// residual (what was not sent) is added to the next round's pseudo-gradient, so an error as
// large as the block's biggest value feeds on itself. This pins the choice of scale in
// protocol/quantize.ts on the CPU reference the GPU is held to: over many rounds of fresh
// pseudo-gradients the residual stays the size of one round's input for every width, while
// the rejected 1-bit scale, max |v| with stochastic rounding, grows without bound.
import { describe, expect, it } from 'vitest';
import { blockScale, quantizeReference } from '../../../kernels/reference/compress.ts';
import { dequantizeCode, levelsFor, type QuantBits } from '../../../protocol/quantize.ts';
import { createRng } from '../../../protocol/rng.ts';

const N = 128 * 32;
const BLOCK = 128;
const ROUNDS = 60;

type Quantizer = (values: Float32Array, round: number) => Float32Array;

/** The quantizer the GPU runs (kernels/reference/compress.ts), decoded as peers decode it. */
function shipped(bits: QuantBits): Quantizer {
  return (values, round) => {
    const { scales, codes } = quantizeReference(values, bits, BLOCK, round);
    return Float32Array.from(codes, (q, j) =>
      dequantizeCode(q, scales[Math.floor(j / BLOCK)] as number, bits),
    );
  };
}

/** 1 bit with s = max |v| and stochastic rounding: unbiased, and unstable under feedback. */
const maxScaleSign: Quantizer = (values, round) => {
  const rng = createRng(round + 1);
  return values.map((v, j) => {
    const block = values.subarray(j - (j % BLOCK), j - (j % BLOCK) + BLOCK);
    const s = block.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    return rng.nextFloat() < (v + s) / (2 * s) ? s : -s;
  });
};

/** |residual| / |one round's input| after each round of feedback with fresh inputs. */
function residualGrowth(quantize: Quantizer): number[] {
  const rng = createRng(7);
  let residual = new Float32Array(N);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Pseudo-gradients of mixed magnitudes, as different tensors have.
    const input = Float32Array.from({ length: N }, (_, i) => rng.nextNormal() * (1 + (i % 7)));
    const acc = input.map((v, i) => Math.fround(v + (residual[i] as number)));
    const sent = quantize(acc, round);
    residual = acc.map((v, i) => Math.fround(v - (sent[i] as number)));
    ratios.push(norm(residual) / norm(input));
  }
  return ratios;
}

function norm(values: Float32Array): number {
  return Math.sqrt(values.reduce((s, v) => s + v * v, 0));
}

describe('error feedback with the shipped quantizers', () => {
  for (const bits of [1, 2, 4, 8] as const) {
    it(`${bits} bit: the residual stays bounded over ${ROUNDS} rounds`, () => {
      const ratios = residualGrowth(shipped(bits));
      const worst = Math.max(...ratios);
      console.log(`${bits} bit: residual / input at most ${worst.toFixed(3)}`);
      expect(worst).toBeLessThan(2);
      // and it does not creep up: the last rounds are no worse than the first ones
      expect(Math.max(...ratios.slice(-10))).toBeLessThan(1.5 * Math.max(...ratios.slice(0, 10)));
    });
  }

  it('1 bit with s = max |v| (the rejected scale) blows up', () => {
    const ratios = residualGrowth(maxScaleSign);
    expect(ratios.at(-1)).toBeGreaterThan(1e6);
  });

  it('1 bit: the scale is the mean magnitude of the block', () => {
    const block = Float32Array.from({ length: BLOCK }, (_, i) => (i % 3) - 1);
    expect(blockScale(block, 1)).toBeCloseTo(Math.fround(85 / 128), 6);
    expect(blockScale(block, 2)).toBe(1);
    expect(levelsFor(1)).toBe(1);
  });
});

// The round arithmetic the relay and every peer run refuses a frame whose values decode to
// infinities: the frame itself is well formed (finite scales), so only the decoded values say so.
// The aggregate frame it sends back is the same bytes whatever order the frames arrived in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompressionSettings } from '../../../protocol/compression-settings.ts';
import { DEFAULT_MODEL } from '../../../protocol/gpt-config.ts';
import { paramLayout } from '../../../protocol/param-layout.ts';
import { packCodes } from '../../../protocol/quantize.ts';
import { keepMaxFor } from '../../../protocol/random-k.ts';
import { createRng } from '../../../protocol/rng.ts';
import { DEFAULT_AGGREGATION } from '../../../protocol/robust-aggregate.ts';
import { type FrameExpectation, roundAggregate, roundUpdate } from '../../../protocol/round-update.ts';
import { encodeTensorFrame } from '../../../protocol/tensor-frame.ts';

const model = { ...DEFAULT_MODEL, dModel: 32, nLayer: 1, nHead: 2, contextLength: 8 };
const layout = paramLayout(model);
const n = layout.totalFloats;
const compression: CompressionSettings = { randomK: 1, topK: 1, bits: 1, blockSize: 512 };
const expected: FrameExpectation = { round: 3, seed: 77, totalFloats: n, compression };

/** A 1-bit frame of the run's format: every value +scale. */
function frame(scale: number): Uint8Array {
  const blocks = Math.ceil(n / compression.blockSize);
  return encodeTensorFrame({
    kind: 'pseudo-gradient',
    round: expected.round,
    seed: expected.seed,
    keepMax: keepMaxFor(compression.randomK),
    paramOffset: 0,
    paramCount: n,
    candidateCount: n,
    bits: 1,
    blockSize: compression.blockSize,
    ordinals: null,
    valueCount: n,
    scales: new Float32Array(blocks).fill(scale),
    words: packCodes(new Uint32Array(n).fill(1), 1, compression.blockSize),
  });
}

describe('roundUpdate', () => {
  it('refuses a frame whose scale overflows when decoded, and the round goes on without it', () => {
    const outer = { outerLr: 1, outerMomentum: 0, aggregation: DEFAULT_AGGREGATION };
    const counted = [
      { peer: 'a', tokens: 100, frame: frame(1e-3) },
      { peer: 'b', tokens: 100, frame: frame(1e-3) },
      { peer: 'c', tokens: 100, frame: frame(1e-3) },
      { peer: 'z', tokens: 100, frame: frame(3e38) }, // 2 × 3e38 is ∞ in fp32
    ];
    const update = roundUpdate(new Float32Array(n), new Float32Array(n), counted, expected, layout, outer);
    if (!update.ok) throw new Error(update.reason);
    expect(update.refused.map((r) => [r.peer, r.error.code])).toEqual([['z', 'ERR_FRAME_VALUE']]);
    expect(update.weights.every(Number.isFinite)).toBe(true);
    expect(update.weights[0]).toBeCloseTo(-1e-3, 9);
  });
});

describe('the round aggregate', () => {
  it('is the same bytes in any arrival order, with any carried residual', () => {
    const outer = {
      outerLr: 1,
      outerMomentum: 0,
      aggregation: DEFAULT_AGGREGATION,
      aggregateBits: 2 as const,
    };
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-5, max: 1e-2, noNaN: true }), { minLength: 1, maxLength: 7 }),
        fc.nat(),
        fc.nat(),
        (scales, shuffleSeed, residualSeed) => {
          const counted = scales.map((scale, i) => ({
            peer: `peer-${i}`,
            tokens: 64 * (i + 1),
            frame: frame(scale),
          }));
          const rng = createRng(shuffleSeed);
          const shuffled = [...counted].sort(() => rng.nextFloat() - 0.5);
          const residualRng = createRng(residualSeed);
          const residual = Float32Array.from({ length: n }, () => 1e-4 * residualRng.nextNormal());
          const a = roundAggregate(counted, expected, layout, outer, residual);
          const b = roundAggregate(shuffled, expected, layout, outer, residual.slice());
          expect(b.aggregate).toEqual(a.aggregate);
          expect(b.residual).toEqual(a.residual);
        },
      ),
      { numRuns: 30 },
    );
  });
});

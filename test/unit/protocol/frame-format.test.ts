// A pseudo-gradient frame counts only in the run's format: a well-formed frame that is denser,
// finer or coarser than the run's compression is refused with ERR_FRAME_FORMAT.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompressionSettings, topKCount } from '../../../protocol/compression-settings.ts';
import { inRunFormat, maxFrameBytesInRunFormat } from '../../../protocol/frame-format.ts';
import { blockCount, packedWordCount, QUANT_BITS } from '../../../protocol/quantize.ts';
import { countCandidates, KEEP_ALL, keepMaxFor } from '../../../protocol/random-k.ts';
import { encodeTensorFrame, type TensorFrame } from '../../../protocol/tensor-frame.ts';

const RUN: CompressionSettings = { randomK: 0.5, topK: 0.5, bits: 4, blockSize: 64 };
const PARAMS = 10_000;
const SEED = 77;

/** The header an honest peer of this run sends (the payload does not matter to the format). */
function honest(run: CompressionSettings = RUN): TensorFrame {
  const keepMax = keepMaxFor(run.randomK);
  const candidateCount = countCandidates(SEED, keepMax, 0, PARAMS);
  const valueCount = topKCount(candidateCount, run.topK);
  return {
    kind: 'pseudo-gradient',
    round: 3,
    seed: SEED,
    keepMax,
    paramOffset: 0,
    paramCount: PARAMS,
    candidateCount,
    bits: run.bits,
    blockSize: run.blockSize,
    ordinals: new Uint32Array(valueCount),
    valueCount,
    scales: new Float32Array(0),
    words: new Uint32Array(0),
  };
}

const refusal = (frame: TensorFrame) => {
  const checked = inRunFormat(frame, RUN);
  expect(checked.ok).toBe(false);
  return checked.ok ? '' : `${checked.error.code}: ${checked.error.message}`;
};

describe("the run's frame format", () => {
  it("accepts an honest peer's frame as it is", () => {
    const frame = honest();
    expect(inRunFormat(frame, RUN)).toEqual({ ok: true, value: frame });
  });

  it('refuses a dense fp32 frame in a 4-bit run', () => {
    const dense = honest({ randomK: 1, topK: 1, bits: 32, blockSize: 64 });
    expect(refusal(dense)).toMatch(/^ERR_FRAME_FORMAT: random-k keeps below 4294967295/);
    expect(refusal({ ...honest(), keepMax: KEEP_ALL })).toMatch(/^ERR_FRAME_FORMAT/);
  });

  it('refuses other bits or another block size', () => {
    expect(refusal({ ...honest(), bits: 8 })).toMatch(/8 bits per 64; the run sends 4 per 64/);
    expect(refusal({ ...honest(), blockSize: 128 })).toMatch(/4 bits per 128/);
  });

  it('refuses more values, or fewer, than top-k keeps', () => {
    const frame = honest();
    expect(refusal({ ...frame, valueCount: frame.valueCount + 1 })).toMatch(/the run keeps/);
    expect(refusal({ ...frame, valueCount: frame.candidateCount })).toMatch(/the run keeps/);
  });
});

describe("the most bytes a frame in the run's format takes", () => {
  /** A frame of the run's format for `params` parameters whose ordinals are `pick`'s choice. */
  function encodedSize(
    run: CompressionSettings,
    params: number,
    seed: number,
    pick: (candidates: number, values: number) => Uint32Array,
  ): number {
    const keepMax = keepMaxFor(run.randomK);
    const candidateCount = countCandidates(seed, keepMax, 0, params);
    const valueCount = topKCount(candidateCount, run.topK);
    const ordinals = valueCount === candidateCount ? null : pick(candidateCount, valueCount);
    return encodeTensorFrame({
      kind: 'pseudo-gradient',
      round: 0,
      seed,
      keepMax,
      paramOffset: 0,
      paramCount: params,
      candidateCount,
      bits: run.bits,
      blockSize: run.blockSize,
      ordinals,
      valueCount,
      scales: new Float32Array(run.bits === 32 ? 0 : blockCount(valueCount, run.blockSize)),
      words: new Uint32Array(packedWordCount(valueCount, run.bits, run.blockSize)),
    }).length;
  }
  // The ordinals whose gaps cost the most varint bytes: spread evenly, or all gap in one place.
  const spread = (candidates: number, values: number) =>
    Uint32Array.from({ length: values }, (_, j) => Math.floor((j * candidates) / values));
  const lastFar = (candidates: number, values: number) =>
    Uint32Array.from({ length: values }, (_, j) => (j === values - 1 ? candidates - 1 : j));

  it('bounds every frame an honest peer can send, whatever random-k drew', () => {
    fc.assert(
      fc.property(
        fc.record({
          randomK: fc.constantFrom(1, 0.7, 0.5, 0.1, 0.01),
          topK: fc.constantFrom(1, 0.5, 0.1, 0.01),
          bits: fc.constantFrom(...QUANT_BITS),
          blockSize: fc.constantFrom(32, 512, 4096),
        }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.nat({ max: 0xffffffff }),
        (run, params, seed) => {
          const bound = maxFrameBytesInRunFormat(params, run);
          expect(encodedSize(run, params, seed, spread)).toBeLessThanOrEqual(bound);
          expect(encodedSize(run, params, seed, lastFar)).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is the exact size when every parameter is sent', () => {
    const dense: CompressionSettings = { randomK: 1, topK: 1, bits: 1, blockSize: 512 };
    expect(maxFrameBytesInRunFormat(PARAMS, dense)).toBe(encodedSize(dense, PARAMS, SEED, spread));
    // The default model's 834,304 floats in the default run's format (70% at 1 bit per 512)
    // stay far below the 64 MiB the mesh allows without a run.
    const defaults: CompressionSettings = { randomK: 0.7, topK: 1, bits: 1, blockSize: 512 };
    expect(maxFrameBytesInRunFormat(834_304, defaults)).toBeLessThan(2 ** 20);
  });
});

// A pseudo-gradient frame counts only in the run's format: a well-formed frame that is denser,
// finer or coarser than the run's compression is refused with ERR_FRAME_FORMAT.
import { describe, expect, it } from 'vitest';
import { type CompressionSettings, topKCount } from '../../../protocol/compression-settings.ts';
import { inRunFormat } from '../../../protocol/frame-format.ts';
import { countCandidates, KEEP_ALL, keepMaxFor } from '../../../protocol/random-k.ts';
import type { TensorFrame } from '../../../protocol/tensor-frame.ts';

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

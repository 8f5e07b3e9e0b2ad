// An attacker's tools: read what honest peers sent and write any values back as a frame in the
// run's exact format (same random-k candidates, same top-k count, same bits and block size), the
// only kind of frame the relay counts (protocol/frame-format.ts). The encoder here is the
// attacker's own, not the GPU compressor: it may pick any scale and sign it likes, deterministically.

import { topKCount } from '../../../protocol/compression-settings.ts';
import { expandFrame } from '../../../protocol/expand-frame.ts';
import { levelsFor, packCodes, type QuantBits, quantStep } from '../../../protocol/quantize.ts';
import { KEEP_ALL, keepMaxFor, randomKCandidates } from '../../../protocol/random-k.ts';
import type { FrameExpectation } from '../../../protocol/round-update.ts';
import { decodeTensorFrame, encodeTensorFrame, type TensorFrame } from '../../../protocol/tensor-frame.ts';

/** The round's random-k candidates, ascending: every frame of the round covers exactly these. */
export function roundCandidates(expected: FrameExpectation): Uint32Array {
  const keepMax = keepMaxFor(expected.compression.randomK);
  return randomKCandidates(expected.seed, keepMax, 0, expected.totalFloats);
}

/** A frame's values spread over the whole parameter vector (zero where it sent nothing). */
export function denseValues(bytes: Uint8Array, totalFloats: number): Float64Array {
  const decoded = decodeTensorFrame(bytes);
  if (!decoded.ok) throw new Error(`not a frame: ${decoded.error.message}`);
  const sparse = expandFrame(decoded.value);
  if (!sparse.ok) throw new Error(`not a frame: ${sparse.error.message}`);
  const dense = new Float64Array(totalFloats);
  sparse.value.indices.forEach((index, j) => {
    dense[index] = sparse.value.values[j] as number;
  });
  return dense;
}

/** `dense` (one value per parameter) as a frame of this round in the run's format. */
export function encodeInRunFormat(dense: ArrayLike<number>, expected: FrameExpectation): Uint8Array {
  const { compression } = expected;
  const candidates = roundCandidates(expected);
  const kept = topKCount(candidates.length, compression.topK);
  // Top-k as the honest compressor does it: the largest magnitudes, sent in candidate order.
  let ordinals: Uint32Array | null = null;
  if (kept < candidates.length) {
    const byMagnitude = Array.from(candidates.keys()).sort(
      (a, b) =>
        Math.abs(dense[candidates[b] as number] as number) -
          Math.abs(dense[candidates[a] as number] as number) || a - b,
    );
    ordinals = Uint32Array.from(byMagnitude.slice(0, kept)).sort();
  }
  const values = Float32Array.from(
    ordinals ?? candidates.keys(),
    (o) => dense[candidates[o] as number] as number,
  );
  const { scales, words } = quantizeAnyScale(values, compression.bits, compression.blockSize);
  const frame: TensorFrame = {
    kind: 'pseudo-gradient',
    round: expected.round,
    seed: expected.seed,
    keepMax: keepMaxFor(compression.randomK),
    paramOffset: 0,
    paramCount: expected.totalFloats,
    candidateCount: candidates.length,
    bits: compression.bits,
    blockSize: compression.blockSize,
    ordinals,
    valueCount: values.length,
    scales,
    words,
  };
  return encodeTensorFrame(frame);
}

/** `dense` as a dense fp32 frame with random-k off: well formed, but not the run's format. */
export function encodeDenseFp32(dense: ArrayLike<number>, expected: FrameExpectation): Uint8Array {
  const values = Float32Array.from(dense);
  return encodeTensorFrame({
    kind: 'pseudo-gradient',
    round: expected.round,
    seed: expected.seed,
    keepMax: KEEP_ALL,
    paramOffset: 0,
    paramCount: expected.totalFloats,
    candidateCount: expected.totalFloats,
    bits: 32,
    blockSize: expected.compression.blockSize,
    ordinals: null,
    valueCount: values.length,
    scales: new Float32Array(0),
    words: new Uint32Array(values.buffer),
  });
}

/**
 * Blockwise quantization with round-to-nearest: 1 bit as sign × the block's mean magnitude (what
 * decodes closest to the values, as the honest encoder does), more bits over ± the block's max.
 */
function quantizeAnyScale(
  values: Float32Array,
  bits: QuantBits,
  blockSize: number,
): { scales: Float32Array; words: Uint32Array } {
  if (bits === 32) return { scales: new Float32Array(0), words: new Uint32Array(values.slice().buffer) };
  const blocks = Math.ceil(values.length / blockSize);
  const scales = new Float32Array(blocks);
  const codes = new Uint32Array(values.length);
  const levels = levelsFor(bits);
  for (let b = 0; b < blocks; b++) {
    const block = values.subarray(b * blockSize, Math.min(values.length, (b + 1) * blockSize));
    let sum = 0;
    let max = 0;
    for (const v of block) {
      sum += Math.abs(v);
      max = Math.max(max, Math.abs(v));
    }
    const scale = Math.fround(bits === 1 ? sum / block.length : max);
    scales[b] = scale;
    const step = quantStep(scale, bits);
    block.forEach((v, j) => {
      // A zero-scale block carries zero codes: the one encoding the frame format accepts.
      if (scale === 0) return;
      const code = bits === 1 ? (v >= 0 ? 1 : 0) : step > 0 ? Math.round((v + scale) / step) : 0;
      codes[b * blockSize + j] = Math.min(levels, Math.max(0, code));
    });
  }
  return { scales, words: packCodes(codes, bits, blockSize) };
}

// CPU reference of kernels/compress/gpu-compressor.ts, written for clarity: the same random-k
// hash, top-k by a full sort (ties: lower index first) over all candidates or per chunk, and
// the same quantization formula and noise, in f32 arithmetic. Tests hold the GPU to it.

import {
  type CompressionSettings,
  chunkTopKOffsets,
  topKCount,
} from '../../protocol/compression-settings.ts';
import { blockCount, levelsFor, packCodes, type QuantBits } from '../../protocol/quantize.ts';
import { isCandidate, keepMaxFor, randomKHash, unitFromHash } from '../../protocol/random-k.ts';
import { type CompressedTensor, QUANTIZE_WORKGROUP } from '../compress/compressed-tensor.ts';

/** acc = start − current + residual, as the GPU computes it (f32, left to right). */
export function accumulateReference(
  start: Float32Array,
  current: Float32Array,
  residual: Float32Array,
): Float32Array {
  return start.map((s, i) => Math.fround(Math.fround(s - (current[i] as number)) + (residual[i] as number)));
}

/** Indices of the k largest |acc| among the candidates, ascending; ties go to lower indices. */
export function topKReference(
  acc: Float32Array,
  seed: number,
  keepMax: number,
  topK: number,
): { indices: Uint32Array; candidateCount: number } {
  const candidates: number[] = [];
  for (let i = 0; i < acc.length; i++) if (isCandidate(seed, keepMax, i)) candidates.push(i);
  const k = topKCount(candidates.length, topK);
  const byMagnitude = [...candidates].sort(largerFirst(acc));
  return { indices: Uint32Array.from(byMagnitude.slice(0, k)).sort(), candidateCount: candidates.length };
}

/**
 * Indices of the largest |acc| of every chunk of `chunkSize`, ascending (ties: lower index),
 * as many per chunk as chunkTopKOffsets gives it: SparseLoCo's selection.
 */
export function chunkedTopKReference(acc: Float32Array, topK: number, chunkSize: number): Uint32Array {
  const offsets = chunkTopKOffsets(acc.length, topK, chunkSize);
  const kept = new Uint32Array(offsets[offsets.length - 1] as number);
  for (let c = 0; c + 1 < offsets.length; c++) {
    const begin = c * chunkSize;
    const chunk = Array.from(
      { length: Math.min(acc.length, begin + chunkSize) - begin },
      (_, j) => begin + j,
    );
    const k = (offsets[c + 1] as number) - (offsets[c] as number);
    kept.set(
      chunk
        .sort(largerFirst(acc))
        .slice(0, k)
        .sort((a, b) => a - b),
      offsets[c],
    );
  }
  return kept;
}

/** Orders indices of `acc` by |acc| descending, ties to the lower index: top-k's order. */
export function largerFirst(acc: Float32Array): (a: number, b: number) => number {
  return (a, b) => Math.abs(acc[b] as number) - Math.abs(acc[a] as number) || a - b;
}

/** Scales and codes (unpacked) of `values`, with the GPU's noise. */
export function quantizeReference(
  values: Float32Array,
  bits: QuantBits,
  blockSize: number,
  roundingSeed: number,
): { scales: Float32Array; codes: Uint32Array } {
  const scales = new Float32Array(blockCount(values.length, blockSize));
  const codes = new Uint32Array(values.length);
  const levels = levelsFor(bits);
  for (let b = 0; b < scales.length; b++) {
    const block = values.subarray(b * blockSize, (b + 1) * blockSize);
    const s = blockScale(block, bits);
    scales[b] = s;
    if (s === 0) continue;
    const step = Math.fround(Math.fround(2 * s) / levels);
    block.forEach((v, t) => {
      const j = b * blockSize + t;
      const u = unitFromHash(randomKHash(roundingSeed, j));
      const q = Math.floor(Math.fround(Math.fround(Math.fround(v + s) / step) + u));
      codes[j] = Math.min(levels, Math.max(0, q));
    });
  }
  return { scales, codes };
}

/** max |v|, or for 1 bit the mean |v| summed in the GPU's order (thread t sums t, t + W, ...). */
export function blockScale(block: Float32Array, bits: QuantBits): number {
  if (bits !== 1) return block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let total = 0;
  for (let t = 0; t < QUANTIZE_WORKGROUP; t++) {
    let partial = 0;
    for (let j = t; j < block.length; j += QUANTIZE_WORKGROUP)
      partial = Math.fround(partial + Math.abs(block[j] as number));
    total = Math.fround(total + partial);
  }
  return Math.fround(total / block.length);
}

export function compressReference(
  acc: Float32Array,
  settings: CompressionSettings,
  seed: number,
  roundingSeed: number,
): CompressedTensor & { codes: Uint32Array } {
  const { bits, blockSize } = settings;
  const keepMax = keepMaxFor(settings.randomK);
  const { indices, candidateCount } =
    settings.chunkSize === undefined
      ? topKReference(acc, seed, keepMax, settings.topK)
      : { indices: chunkedTopKReference(acc, settings.topK, settings.chunkSize), candidateCount: acc.length };
  const values = Float32Array.from(indices, (i) => acc[i] as number);
  const quantized =
    bits === 32
      ? { scales: new Float32Array(0), codes: new Uint32Array(values.buffer) }
      : quantizeReference(values, bits, blockSize, roundingSeed);
  return {
    seed,
    keepMax,
    paramOffset: 0,
    paramCount: acc.length,
    candidateCount,
    indices,
    bits,
    blockSize,
    scales: quantized.scales,
    words: packCodes(quantized.codes, bits, blockSize),
    codes: quantized.codes,
  };
}

// From what the GPU compressor read back to the frame that goes on the wire, and the values
// that frame stands for. Indices travel as ordinals in the round's random-k candidate list
// (fewer bits than global indices, and the list itself is regenerated from the seed).
import { dequantize } from '../../protocol/quantize.ts';
import { KEEP_ALL, randomKCandidates } from '../../protocol/random-k.ts';
import type { TensorFrame } from '../../protocol/tensor-frame.ts';
import type { CompressedTensor } from '../compress/gpu-compressor.ts';

export function frameOf(payload: CompressedTensor, round: number): TensorFrame {
  // The payload carries the frame's header fields under the frame's names; only the indices
  // become ordinals.
  const { indices, ...fields } = payload;
  return {
    ...fields,
    kind: 'pseudo-gradient',
    round,
    ordinals: indices.length === fields.candidateCount ? null : ordinalsOf(payload),
    valueCount: indices.length,
  };
}

/** The values the payload stands for, in the order of its indices, as every receiver decodes them. */
export function sentValues(payload: CompressedTensor): Float32Array {
  const { words, scales, bits, blockSize, indices } = payload;
  return dequantize(words, scales, bits, blockSize, indices.length);
}

function ordinalsOf(payload: CompressedTensor): Uint32Array {
  const { seed, keepMax, paramOffset, paramCount, candidateCount, indices } = payload;
  const ordinals = new Uint32Array(indices.length);
  if (keepMax >= KEEP_ALL) {
    for (let j = 0; j < indices.length; j++) ordinals[j] = (indices[j] as number) - paramOffset;
    return ordinals;
  }
  // The compressor counted the candidates already (gpu-compressor.ts).
  const candidates = randomKCandidates(seed, keepMax, paramOffset, paramCount, candidateCount);
  let c = 0;
  for (let j = 0; j < indices.length; j++) {
    const index = indices[j] as number;
    while (c < candidates.length && (candidates[c] as number) < index) c++;
    if (candidates[c] !== index) throw new RangeError(`index ${index} is not a random-k candidate`);
    ordinals[j] = c;
  }
  return ordinals;
}

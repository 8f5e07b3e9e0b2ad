// A decoded frame as sparse values at global parameter indices: the candidates are
// regenerated from the frame's seed (they were never sent), then the ordinals pick from them.
import { type DecodeResult, refuse } from './frame-errors.ts';
import { dequantize } from './quantize.ts';
import { countCandidates, KEEP_ALL, randomKCandidates } from './random-k.ts';
import type { TensorFrame } from './tensor-frame.ts';

export interface SparseValues {
  /** Global parameter indices, strictly ascending. */
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/**
 * Never throws: a frame whose candidate count does not match its seed is refused. The count is
 * checked before the candidates are listed, so a header that claims a huge range but sends no
 * values costs a pass over the hashes, not an allocation of the range. (A round's caller also
 * checks paramCount against its model first: kernels/round/round-peer.ts.)
 */
export function expandFrame(frame: TensorFrame): DecodeResult<SparseValues> {
  const { seed, keepMax, paramOffset, paramCount, candidateCount, ordinals, valueCount } = frame;
  const expected = countCandidates(seed, keepMax, paramOffset, paramCount);
  if (expected !== candidateCount)
    return refuse(
      'ERR_FRAME_FIELD',
      `seed ${seed} gives ${expected} candidates, the frame says ${candidateCount}`,
    );
  const candidates = randomKCandidates(seed, keepMax, paramOffset, paramCount, expected);
  let indices: Uint32Array;
  if (ordinals === null) indices = candidates;
  else if (keepMax >= KEEP_ALL) indices = Uint32Array.from(ordinals, (o) => o + paramOffset);
  else indices = Uint32Array.from(ordinals, (o) => candidates[o] as number);
  return {
    ok: true,
    value: {
      indices,
      values: dequantize(frame.words, frame.scales, frame.bits, frame.blockSize, valueCount),
    },
  };
}

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
  const candidates = candidatesOf(seed, keepMax, paramOffset, paramCount, candidateCount);
  if (typeof candidates === 'number')
    return refuse(
      'ERR_FRAME_FIELD',
      `seed ${seed} gives ${candidates} candidates, the frame says ${candidateCount}`,
    );
  let indices: Uint32Array;
  if (ordinals === null) indices = candidates.slice();
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

/**
 * The candidates of one random-k set, kept for the next frame: every frame of a round shares its
 * seed, and regenerating them costs a hash per parameter, most of what decoding a frame costs.
 * Callers get the kept array read-only (expandFrame copies what it hands out).
 */
let kept: { key: string; candidates: Uint32Array } | null = null;

/** The candidates, or how many there are when the frame claims another count (nothing listed). */
function candidatesOf(
  seed: number,
  keepMax: number,
  offset: number,
  count: number,
  claimed: number,
): Uint32Array | number {
  const key = `${seed}:${keepMax}:${offset}:${count}`;
  if (kept?.key === key) return kept.candidates.length === claimed ? kept.candidates : kept.candidates.length;
  // Counted first, so a header claiming a huge range costs a pass over hashes, not an allocation.
  const found = countCandidates(seed, keepMax, offset, count);
  if (found !== claimed) return found;
  kept = { key, candidates: randomKCandidates(seed, keepMax, offset, count, found) };
  return kept.candidates;
}

// A compressed pseudo-gradient as the compressor hands it over, before it is framed for the wire
// (kernels/round/payload.ts). Plain data with no GPU types, so the CPU reference and the relay,
// which redoes rounds it checks, share it with the GPU compressor.
import type { QuantBits } from '../../protocol/quantize.ts';

export interface CompressedTensor {
  readonly seed: number;
  readonly keepMax: number;
  readonly paramOffset: number;
  readonly paramCount: number;
  readonly candidateCount: number;
  /** Global indices of the kept values, strictly ascending. */
  readonly indices: Uint32Array;
  readonly bits: QuantBits;
  readonly blockSize: number;
  /** One per block of kept values when bits < 32; empty for 32. */
  readonly scales: Float32Array;
  readonly words: Uint32Array;
}

/** Threads per quantization block; the CPU reference sums a 1-bit block's magnitudes in their order. */
export const QUANTIZE_WORKGROUP = 64;

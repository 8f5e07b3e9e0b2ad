// What a peer's pseudo-gradient goes through before it is sent, each stage optional
// (CocktailSGD, Wang et al. 2023: random sparsification, then top-k, then quantization).
import { isQuantBits, isValidBlockSize, type QuantBits } from '../../protocol/quantize.ts';

export interface CompressionSettings {
  /** Fraction of parameters random-k keeps as candidates, in (0, 1]; 1 = off. */
  readonly randomK: number;
  /** Fraction of the candidates top-k keeps (the largest magnitudes), in (0, 1]; 1 = off. */
  readonly topK: number;
  /** Bits per kept value: 1, 2, 4 or 8 blockwise; 32 = fp32, no quantization. */
  readonly bits: QuantBits;
  /** Values per quantization block (one f32 scale each): a multiple of 32. */
  readonly blockSize: number;
}

export function validateCompression(s: CompressionSettings): void {
  if (!(s.randomK > 0 && s.randomK <= 1)) throw new RangeError(`randomK must be in (0, 1], got ${s.randomK}`);
  if (!(s.topK > 0 && s.topK <= 1)) throw new RangeError(`topK must be in (0, 1], got ${s.topK}`);
  if (!isQuantBits(s.bits)) throw new RangeError(`bits must be 1, 2, 4, 8 or 32, got ${s.bits}`);
  if (!isValidBlockSize(s.blockSize))
    throw new RangeError(`blockSize must be a multiple of 32 from 32 to 4096, got ${s.blockSize}`);
}

/** Values top-k keeps out of `candidateCount`: at least one when there is any. */
export function topKCount(candidateCount: number, topK: number): number {
  if (candidateCount === 0) return 0;
  return Math.min(candidateCount, Math.max(1, Math.round(topK * candidateCount)));
}
